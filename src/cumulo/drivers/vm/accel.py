"""Which accelerator VMs get: KVM when ``/dev/kvm`` opens and a probe guest boots under it within a
timeout (a KVM that hangs guests, as on nested hosts, falls back), else TCG (software emulation).
The answer is cached in the data dir per QEMU binary and kernel, so a restart does not probe again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from pathlib import Path

PROBE_OK = b"CUMULO-PROBE-OK"


def kvm_openable() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


async def boots_under_kvm(qemu: str, kernel: Path, initramfs: Path, timeout: float) -> bool:
    proc = await asyncio.create_subprocess_exec(
        qemu, "-machine", "microvm,accel=kvm", "-cpu", "host", "-smp", "1", "-m", "128", "-nodefaults",
        "-no-user-config", "-display", "none", "-no-reboot", "-serial", "stdio", "-kernel", str(kernel),
        "-initrd", str(initramfs), "-append", "console=ttyS0 quiet panic=-1 cumulo.probe",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    seen = b""
    try:
        async with asyncio.timeout(timeout):
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(4096):
                seen = (seen + chunk)[-4096:]
                if PROBE_OK in seen:
                    return True
    except TimeoutError:
        return False
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
    return False


async def choose(wanted: str, cache: Path, qemu: str, kernel: Path, initramfs: Path, timeout: float) -> str:
    """``wanted``: ``auto``, ``kvm`` or ``tcg`` (CUMULO_VM_ACCELERATOR)."""
    if wanted in ("kvm", "tcg"):
        return wanted
    if not kvm_openable():
        return "tcg"
    key = f"{shutil.which(qemu)}:{os.stat(shutil.which(qemu) or qemu).st_mtime_ns}:{kernel.name}"
    with contextlib.suppress(OSError, ValueError):
        known = json.loads(cache.read_text())
        if known.get("key") == key:
            return str(known["accelerator"])
    found = "kvm" if await boots_under_kvm(qemu, kernel, initramfs, timeout) else "tcg"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "accelerator": found}))
    return found

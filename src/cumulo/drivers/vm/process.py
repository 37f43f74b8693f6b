"""QEMU's process: started daemonized in its own session (so it outlives Cumulo), powered off over
QMP (ACPI power-down, then ``quit``, then SIGKILL), its CPU time from ``/proc``; and ``qemu-img``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from cumulo.core.errors import Unavailable
from cumulo.drivers.vm import events, machine, qmp


def launch(argv: list[str], errors: Path) -> int:
    """Start QEMU (``-daemonize``: it returns once the guest is set up) with its errors in a file."""
    with open(errors, "wb") as err:
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                  start_new_session=True, timeout=120, check=False).returncode
        except subprocess.TimeoutExpired:
            err.write(b"QEMU did not finish starting within 120 s")
            return 1


async def power_off(folder: Path, timeout: float) -> None:
    """Mark the stop as asked for, then ACPI power-down, ``quit`` after ``timeout`` s, SIGKILL."""
    pid = machine.pid(folder)
    (folder / "stopped").touch()
    if pid is None:
        return
    if timeout and (events.run_state(folder) or {}).get("status") == "paused":
        with contextlib.suppress(qmp.QmpError):  # a paused guest cannot hear the ACPI button
            await qmp.execute(folder / "qmp.sock", "cont")
    with contextlib.suppress(qmp.QmpError):
        await qmp.execute(folder / "qmp.sock", "system_powerdown")
    if await gone(folder, timeout):
        return
    with contextlib.suppress(qmp.QmpError):
        await qmp.execute(folder / "qmp.sock", "quit")
    if await gone(folder, 5):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    await gone(folder, 5)


async def kill(folder: Path) -> None:
    pid = machine.pid(folder)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await gone(folder, 5)


async def gone(folder: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while machine.pid(folder) is not None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)
    return True


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


async def qemu_img(*args: str) -> str:
    try:
        proc = await asyncio.create_subprocess_exec("qemu-img", *args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError as exc:
        raise Unavailable("qemu-img is not installed (scripts/ensure-qemu.sh)") from exc
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise Unavailable(f"qemu-img {args[0]} failed: {err.decode(errors='replace').strip()[-400:]}")
    return out.decode()

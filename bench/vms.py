"""VM launch to guest service: `POST /instances {backend: vm}` against raw QEMU started by hand with
the same kernel, initramfs, root disk image and machine type, in the same run.

For each of N rounds (interleaved, so both see the same machine load):
- Cumulo: POST /instances (cumulo/busybox, busybox httpd as the guest's command, ports "0:80",
  backend vm, 256 MB, 1 vCPU) -> HTTP 200 from the published port ("answering"); then DELETE.
- Raw: `qemu-img create` of an overlay, then `qemu-system-x86_64 -machine microvm` with the same
  kernel command line, memory, CPU and a hostfwd on a port chosen beforehand -> HTTP 200; then kill.
The boot artifacts for the raw runs are built once beforehand by the same code (the same files).

Usage: .venv/bin/python bench/vms.py [--rounds 3] [--accelerator tcg]
Target (issue 18): launch-to-answer at most 1.2x raw QEMU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from harness import cumulo_api, free_port

from cumulo.drivers.vm.artifacts import Artifacts, quote
from cumulo.drivers.vm.cmdline import host_tsc_khz

PASSWORD = "Bench-passw0rd"
IMAGE = "cumulo/busybox"
COMMAND = ["sh", "-c", "mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 80 -h /www"]


def answering(port: int, started: float, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            try:
                if http.get(f"http://127.0.0.1:{port}/").status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"port {port} never answered")


def cumulo_round(api: httpx.Client, i: int) -> float:
    started = time.monotonic()
    r = api.post("/instances", json={"name": f"vm-{i}", "image": IMAGE, "ports": "0:80", "command": COMMAND,
                                     "backend": "vm", "memory_mb": 256, "cpus": 1})
    r.raise_for_status()
    ready = answering(int(r.json()["ports"].split(":")[0]), started)
    api.delete(f"/instances/{r.json()['id']}").raise_for_status()
    return ready


def raw_round(work: Path, kernel: Path, initrd: Path, base: Path, accel: str) -> float:
    port = free_port()
    disk = work / "raw.qcow2"
    disk.unlink(missing_ok=True)
    started = time.monotonic()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(disk)], check=True)
    append = "console=ttyS0 quiet panic=-1"
    if accel == "tcg":
        append += f" tsc_early_khz={host_tsc_khz()} tsc=reliable no_timer_check"
    proc = subprocess.Popen([
        "qemu-system-x86_64", "-machine", f"microvm,accel={accel}", "-cpu", "host" if accel == "kvm" else "max",
        "-smp", "1", "-m", "256", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(kernel), "-initrd", str(initrd), "-append", append, "-serial", f"file:{work / 'raw.log'}",
        "-netdev", f"user,id=n0,hostfwd=tcp:0.0.0.0:{port}-:80", "-device", "virtio-net-device,netdev=n0",
        "-drive", f"file={disk},if=none,id=d0,format=qcow2,cache=writeback", "-device", "virtio-blk-device,drive=d0",
    ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return answering(port, started)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):6.2f} s  min {min(values):6.2f} s  max {max(values):6.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--accelerator", default="tcg", choices=["tcg", "kvm"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cumulo-bench-vm-"))
    try:
        art = Artifacts(work / "artifacts")
        kernel, initramfs = asyncio.run(art.kernel()), asyncio.run(art.initramfs())
        base, _ = asyncio.run(art.root_disk(IMAGE))
        initrd = work / "raw.initrd"
        initrd.write_bytes(Artifacts.with_config(initramfs.read_bytes(), {
            "command": "exec " + " ".join(quote(a) for a in COMMAND) + "\n", "hostname": "raw"}))
        with cumulo_api(extra_env={"CUMULO_VM_ACCELERATOR": args.accelerator}) as url:
            httpx.post(f"{url}/auth/register", json={"email": "bench@example.com", "password": PASSWORD, "name": "B"})
            key = httpx.post(f"{url}/auth/login", json={"email": "bench@example.com", "password": PASSWORD}).json()[
                "api_key"]
            with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=600) as api:
                cumulo_round(api, -1)  # warm-up: builds Cumulo's own copies of the boot artifacts
                ours, theirs = [], []
                for i in range(args.rounds):
                    ours.append(cumulo_round(api, i))
                    theirs.append(raw_round(work, kernel, initrd, base, args.accelerator))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"{args.rounds} launches each, {IMAGE} httpd in a microvm, {args.accelerator}, load average {load:.1f}")
    print(f"  POST /instances (vm) -> port answers  {summary(ours)}")
    print(f"  raw qemu-system-x86_64 -> port answers {summary(theirs)}")
    print(f"  ratio of medians: {statistics.median(ours) / statistics.median(theirs):.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()

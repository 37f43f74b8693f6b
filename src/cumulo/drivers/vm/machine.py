"""A VM's machine folder, ``<root>/<hash of the name>/``: ``vm.json`` (its spec without secret values),
``disk.qcow2`` (an overlay of the image's cached root disk), ``qemu.pid``, the sockets of QEMU
(``qmp.sock``, ``serial.sock``, ``vnc.sock``) and ``console.log``. Everything about a VM is read back
from here, so a VM that outlived the Cumulo process that started it is adopted again as it is found:
its QEMU process (``pid``), and its state (``state``: running, created, exited, with why it ended).
``stopped`` marks a stop asked for by Cumulo; a QEMU gone without it is a crash (``why_gone``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from cumulo.drivers.compute.base import ContainerState, PortBinding


def folder_of(root: Path, ref: str) -> Path:
    """A short folder name (unix socket paths are limited to 108 bytes)."""
    return root / hashlib.sha256(ref.encode()).hexdigest()[:16]


def load(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "vm.json").read_text())  # type: ignore[no-any-return]


def save(folder: Path, meta: dict[str, Any]) -> None:
    tmp = folder / "vm.json.tmp"
    tmp.write_text(json.dumps(meta))
    tmp.replace(folder / "vm.json")


def pid(folder: Path) -> int | None:
    """QEMU's pid when it runs for this folder (the pid file alone could name a reused pid)."""
    try:
        found = int((folder / "qemu.pid").read_text().strip())
        cmdline = Path(f"/proc/{found}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    if str(folder / "qmp.sock").encode() not in cmdline:
        return None
    with contextlib.suppress(OSError):
        if Path(f"/proc/{found}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return None
    return found


def state(folder: Path) -> ContainerState:
    meta = load(folder)
    running = pid(folder)
    ports = [PortBinding(h, c) for h, c in meta["ports"]]
    error, exit_code, status = None, None, "running" if running else "created"
    if running is None and meta.get("booted"):
        status = "exited"
        if (folder / "stopped").exists():
            exit_code = 0
        else:
            error = why_gone(folder)
    started = meta.get("started_at")
    placed = meta.get("placement") if running else None
    if placed:
        ports = [PortBinding(h, c) for h, c in placed["ports"]]
    return ContainerState(
        id=meta["name"], name=meta["name"], status=status, labels=meta["labels"],
        ports=ports if running else [PortBinding(0, c) for _, c in meta["ports"]], exit_code=exit_code,
        error=error, started_at=dt.datetime.fromisoformat(started) if started else None,
        ip_address=placed["address"] if placed else None)


def why_gone(folder: Path) -> str:
    if (folder / "network-lost").exists():
        return "the VM's network (its port container on the VPC's bridge) disappeared; it was powered off"
    try:
        tail = (folder / "console.log").read_bytes()[-4096:].decode(errors="replace")
    except OSError:
        tail = ""
    if "cumulo: the main command ended" in tail:
        line = next(x for x in reversed(tail.splitlines()) if "cumulo: the main command ended" in x)
        return "the guest's main command ended (" + line.split("ended", 1)[1].split(";")[0].strip() + \
            ") and the VM powered off"
    if "Kernel panic" in tail:
        return "the guest kernel panicked"
    return "the QEMU process ended without being stopped (killed or crashed)"

"""A VM's machine folder, ``<root>/<hash of the name>/``: ``vm.json`` (its spec without secret values),
``disk.qcow2`` (an overlay of the image's cached root disk), ``qemu.pid``, the sockets of QEMU
(``qmp.sock``, ``serial.sock``, ``vnc.sock``) and ``console.log``. Everything about a VM is read back
from here, so a VM that outlived the Cumulo process that started it is adopted again as it is found:
its QEMU process (``pid``), and its state (``state``: running, created, exited, with why it ended).
``stopped`` marks a stop asked for by Cumulo; a QEMU gone without it ended by the guest's doing (a
power-off or a reboot, from its QMP events: ``events``) or crashed (``why_gone``). A running VM is
``paused`` while its events say so."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from cumulo.drivers.compute.base import ContainerState, PortBinding
from cumulo.drivers.vm import events


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
    error, exit_code, status, shutdown = None, None, "running" if running else "created", None
    if running is not None:
        found = events.run_state(folder, meta.get("boot_id")) or {}
        if found.get("status") == "paused":
            status, error = "paused", found.get("reason")
    elif meta.get("booted"):
        status = "exited"
        if (folder / "stopped").exists():
            exit_code = 0
        else:
            shutdown, error = why_gone(folder, meta)
            exit_code = 0 if shutdown else None
    started = meta.get("started_at")
    placed = meta.get("placement") if running else None
    if placed:
        ports = [PortBinding(h, c) for h, c in placed["ports"]]
    return ContainerState(
        id=meta["name"], name=meta["name"], status=status, labels=meta["labels"],
        ports=ports if running else [PortBinding(0, c) for _, c in meta["ports"]], exit_code=exit_code,
        error=error, started_at=dt.datetime.fromisoformat(started) if started else None,
        ip_address=placed["address"] if placed else None, shutdown=shutdown)


def console_since_boot(folder: Path, meta: dict[str, Any], tail: int = 4096) -> str:
    """The end of the serial log written since the last boot began (earlier boots' lines left out)."""
    try:
        with open(folder / "console.log", "rb") as log:
            size = log.seek(0, 2)
            log.seek(max(int(meta.get("log_offset") or 0), size - tail))
            return log.read().decode(errors="replace")
    except OSError:
        return ""


SIGNALLED = {"host-signal": "QEMU was stopped by a signal on the host",
             "host-qmp-quit": "QEMU was told to quit over its monitor",
             "host-ui": "QEMU's window was closed"}


def why_gone(folder: Path, meta: dict[str, Any] | None = None) -> tuple[str | None, str | None]:
    """How a VM that Cumulo did not stop ended: ``("poweroff"|"reboot", None)`` when its guest did it,
    else ``(None, the reason)`` of a failure."""
    meta = load(folder) if meta is None else meta
    if (folder / "network-lost").exists():
        return None, "the VM's network (its port container on the VPC's bridge) disappeared; it was powered off"
    tail = console_since_boot(folder, meta)
    ended = events.shutdown_of(folder, meta.get("boot_id")) or {}
    if "cumulo: the main command ended" in tail:
        line = next(x for x in reversed(tail.splitlines()) if "cumulo: the main command ended" in x)
        return None, "the guest's main command ended (" + line.split("ended", 1)[1].split(";")[0].strip() + \
            ") and the VM powered off"
    if ended.get("reason") == "guest-panic" or "Kernel panic" in tail:
        detail = next((x.strip() for x in tail.splitlines() if "Kernel panic" in x), "")
        return None, "the guest kernel panicked" + (f" ({detail[detail.index('Kernel panic'):][:200]})" if detail else "")
    reason = ended.get("reason")
    if reason == "guest-shutdown" or (reason is None and "reboot: Power down" in tail):
        return "poweroff", None
    if reason == "guest-reset" or (reason is None and "reboot: Restarting system" in tail):
        return "reboot", None
    if reason in SIGNALLED:
        return None, SIGNALLED[reason] + " (it was not stopped through Cumulo)"
    return None, "the QEMU process ended without being stopped (killed or crashed)"

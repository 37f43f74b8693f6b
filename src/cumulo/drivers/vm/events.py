"""A running VM's QMP events, heard on a monitor of their own (``events.sock``: the command monitor
``qmp.sock`` stays free for one-shot commands), and what they leave in the machine folder:

- ``run-state.json``: ``{"status": "running"|"paused", "reason": ...}`` from ``STOP`` / ``RESUME``
  (a ``BLOCK_IO_ERROR`` before a ``STOP`` is its reason), and from ``query-status`` when the watch
  begins (a VM adopted after a restart of Cumulo);
- ``shutdown.json``: ``{"reason": QEMU's SHUTDOWN reason, "guest": bool}`` (``guest-shutdown`` when
  the guest powered itself off, ``guest-reset`` when it rebooted on a machine run with
  ``-no-reboot``, ``guest-panic`` after ``GUEST_PANICKED``), read by ``machine.state`` once QEMU is
  gone.

Both are stamped with the boot they belong to (``vm.json``'s ``boot_id``, new at every boot), so
an event of the previous QEMU written late is never read as the new boot's.

``watch`` keeps one connection and calls back after every event it acted on; it returns when QEMU
closes the monitor (the VM ended) and raises ``OSError`` when the monitor cannot be reached."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SOCKET = "events.sock"
RUN_STATE = "run-state.json"
SHUTDOWN = "shutdown.json"
ACTED_ON = ("STOP", "RESUME", "SHUTDOWN", "RESET", "GUEST_PANICKED", "GUEST_CRASHLOADED")


def _write(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def boot_of(folder: Path) -> str | None:
    """The id of the VM's current boot (``vm.json``): what each file here is stamped with, so a late
    write about an earlier boot is never read as this one's."""
    found = _read(folder / "vm.json") or {}
    return found.get("boot_id")


def set_run_state(folder: Path, status: str, reason: str | None = None, boot: str | None = None) -> None:
    _write(folder / RUN_STATE, {"status": status, "reason": reason, "boot": boot or boot_of(folder)})


def run_state(folder: Path, boot: str | None = None) -> dict[str, Any] | None:
    found = _read(folder / RUN_STATE)
    return found if found is not None and found.get("boot") == (boot or boot_of(folder)) else None


def shutdown_of(folder: Path, boot: str | None = None) -> dict[str, Any] | None:
    found = _read(folder / SHUTDOWN)
    return found if found is not None and found.get("boot") == (boot or boot_of(folder)) else None


def forget(folder: Path) -> None:
    """A new boot: nothing of the last one's events is left."""
    for name in (RUN_STATE, SHUTDOWN):
        (folder / name).unlink(missing_ok=True)


def io_error_reason(data: dict[str, Any]) -> str:
    device = data.get("node-name") or data.get("device") or "a disk"
    if data.get("nospace"):
        return f"the host ran out of space writing {device}: the VM is paused (free space, then resume it)"
    return f"an I/O error on {device} ({data.get('reason') or data.get('operation') or 'unknown'}): the VM is paused"


async def watch(folder: Path, changed: Callable[[str, dict[str, Any]], Awaitable[None]]) -> None:
    """Follow the VM's events until QEMU closes the monitor; ``changed(event, data)`` after each one
    acted on (``"STATUS"`` first, with the state ``query-status`` reported)."""
    boot = boot_of(folder)
    reader, writer = await asyncio.open_unix_connection(str(folder / SOCKET), limit=2**20)
    try:
        await _reply(reader)  # the greeting
        writer.write(b'{"execute": "qmp_capabilities"}\n{"execute": "query-status"}\n')
        await writer.drain()
        await _reply(reader)
        status = await _reply(reader)
        io_error: str | None = None
        if isinstance(status, dict):
            paused = status.get("status") in ("paused", "io-error", "internal-error", "guest-panicked")
            reason = "an I/O error on a disk" if status.get("status") == "io-error" else None
            set_run_state(folder, "paused" if paused else "running", reason, boot)
            await changed("STATUS", status)
        while line := await reader.readline():
            msg: Any = None
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
            if not isinstance(msg, dict) or "event" not in msg:
                continue
            event, data = str(msg["event"]), msg.get("data") or {}
            if event == "BLOCK_IO_ERROR":
                io_error = io_error_reason(data)
                continue
            if event == "STOP":
                set_run_state(folder, "paused", io_error, boot)
            elif event == "RESUME":
                io_error = None
                set_run_state(folder, "running", None, boot)
            elif event in ("GUEST_PANICKED", "GUEST_CRASHLOADED"):
                _write(folder / SHUTDOWN, {"reason": "guest-panic", "guest": True, "boot": boot,
                                           "info": (data.get("info") or {}).get("type")})
            elif event == "SHUTDOWN" and (shutdown_of(folder, boot) or {}).get("reason") != "guest-panic":
                _write(folder / SHUTDOWN, {"reason": data.get("reason"), "guest": bool(data.get("guest")), "boot": boot})  # the panic first
            if event in ACTED_ON:
                await changed(event, data)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _reply(reader: asyncio.StreamReader) -> Any:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionResetError("the VM's event monitor closed")
        msg = json.loads(line)
        if "event" in msg:
            continue
        return msg.get("return", msg.get("QMP"))

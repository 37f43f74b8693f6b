"""The QMP event watcher against a QMP peer speaking the protocol over a unix socket (the same bytes
QEMU sends; the real QEMU is in tests/services/vms/test_vm_events.py), and how ``machine.state``
reads what it left: a pause, a power-off or reboot by the guest, a panic, a late write of an
earlier boot (ignored)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cumulo.drivers.vm import events, machine


def vm_folder(tmp: Path, boot: str = "b1", log: bytes = b"") -> Path:
    (tmp / "vm.json").write_text(json.dumps({"boot_id": boot, "name": "vm", "labels": {}, "ports": [],
                                             "booted": True, "log_offset": 0}))
    (tmp / "console.log").write_bytes(log)
    return tmp


def run(folder: Path, status: str, sent: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    async def main() -> list[tuple[str, Any]]:
        async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b'{"QMP": {"version": {}, "capabilities": []}}\n')
            assert json.loads(await reader.readline()) == {"execute": "qmp_capabilities"}
            writer.write(b'{"return": {}}\n')
            assert json.loads(await reader.readline()) == {"execute": "query-status"}
            writer.write(json.dumps({"return": {"status": status, "running": status == "running"}}).encode() + b"\n")
            for event in sent:
                writer.write(json.dumps(event).encode() + b"\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_unix_server(peer, str(folder / events.SOCKET))
        seen: list[tuple[str, Any]] = []

        async def changed(event: str, data: dict[str, Any]) -> None:
            seen.append((event, (events.run_state(folder) or {}).get("status")))

        async with server:
            await events.watch(folder, changed)
        return seen

    return asyncio.run(main())


def test_pause_and_resume_and_an_io_error(tmp_path: Path) -> None:
    folder = vm_folder(tmp_path)
    seen = run(folder, "running", [{"event": "STOP"}, {"event": "RESUME"},
                                   {"event": "BLOCK_IO_ERROR", "data": {"device": "d1", "nospace": True}},
                                   {"event": "STOP"}])
    assert seen == [("STATUS", "running"), ("STOP", "paused"), ("RESUME", "running"), ("STOP", "paused")]
    state = machine.state(folder)
    assert state.status == "exited"  # no QEMU here: the folder's VM is not running
    assert events.run_state(folder) == {"status": "paused", "boot": "b1",
                                        "reason": "the host ran out of space writing d1: the VM is paused "
                                                  "(free space, then resume it)"}


def test_how_a_vm_ended(tmp_path: Path) -> None:
    folder = vm_folder(tmp_path)
    run(folder, "running", [{"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-shutdown"}}])
    state = machine.state(folder)
    assert (state.shutdown, state.error, state.exit_code) == ("poweroff", None, 0)
    run(folder, "running", [{"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-reset"}}])
    assert machine.state(folder).shutdown == "reboot"
    run(folder, "running", [{"event": "GUEST_PANICKED", "data": {"action": "poweroff"}},
                            {"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-panic"}}])
    state = machine.state(folder)
    assert state.shutdown is None and state.error == "the guest kernel panicked"
    (folder / events.SHUTDOWN).unlink()  # (one SHUTDOWN per boot; after a panic, the panic stays the cause)
    run(folder, "running", [{"event": "SHUTDOWN", "data": {"guest": False, "reason": "host-signal"}}])
    assert "signal" in str(machine.state(folder).error)
    (folder / events.SHUTDOWN).unlink()
    assert "killed or crashed" in str(machine.state(folder).error)  # no word from QEMU at all


def test_a_panic_or_power_down_on_the_serial_log_of_this_boot_only(tmp_path: Path) -> None:
    earlier = b"[ 1.0] Kernel panic - not syncing: an earlier boot\n"
    folder = vm_folder(tmp_path, log=earlier + b"reboot: Power down\n")
    meta = machine.load(folder)
    meta["log_offset"] = len(earlier)  # this boot's part of the log starts after the panic
    machine.save(folder, meta)
    assert machine.state(folder).shutdown == "poweroff"  # read from the log when no event was heard
    folder = vm_folder(tmp_path, log=b"Kernel panic - not syncing: sysrq triggered crash\n")
    assert "sysrq triggered crash" in str(machine.state(folder).error)


def test_a_late_write_of_an_earlier_boot_is_not_read(tmp_path: Path) -> None:
    folder = vm_folder(tmp_path, boot="old")
    run(folder, "running", [{"event": "STOP"},
                            {"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-shutdown"}}])
    meta = machine.load(folder)
    meta["boot_id"] = "new"  # the next boot began meanwhile
    machine.save(folder, meta)
    assert events.run_state(folder) is None and events.shutdown_of(folder) is None
    assert machine.state(folder).shutdown is None

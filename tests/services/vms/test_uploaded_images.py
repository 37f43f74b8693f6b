"""VMs booted from an uploaded disk image, under real QEMU: the image is a raw disk whose boot sector
(hand-assembled below) prints a line on the serial port and on the VGA screen through the BIOS, then
halts. Two such VMs check the machine (``pc`` with SeaBIOS), the cloud-init seed CD-ROM, the VNC
display showing the VGA screen, and the caps on open displays per VM and per user."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest
import websockets
from websockets.sync import client as ws_client
from websockets.typing import Subprotocol

from cumulo.drivers.vm import qmp
from cumulo.services.compute.vms import vm_driver
from cumulo.testing.polling import eventually
from tests.services.vms.conftest import BOOT, VmEnv, boot_code, module_env, raises
from tests.services.vms.rfb import Rfb

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("vm-images")]
MESSAGE = b"CUMULO-BOOT-OK"
PASSWORD = f"pw-{uuid.uuid4().hex[:12]}"


def boot_sector() -> bytes:
    """A 512-byte MBR printing MESSAGE on the VGA screen and the serial port (``boot_code``)."""
    sector = boot_code(MESSAGE)
    return sector + b"\0" * (510 - len(sector)) + b"\x55\xaa"


class Env(VmEnv):  # the accelerator probe is exercised by test_vms; here TCG at once
    overrides: ClassVar[dict[str, Any]] = {"compute_reconcile_seconds": 2, "vm_stop_timeout_seconds": 1,
                                           "vm_vnc_sessions_per_vm": 2, "vm_vnc_sessions_per_user": 3}

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.image = tmp / "boot.raw"
        self.image.write_bytes(boot_sector() + b"\0" * (2**20 - 512))
        self.vms: dict[str, dict[str, Any]] = {}


env = module_env(Env, "vm-images")


def folder_of(env: Env, inst: dict[str, Any]) -> Path:
    return vm_driver(env.server.platform).folder(f"cumulo-{env.installation}-{inst['id']}")


def test_an_uploaded_disk_image_boots_as_a_vm(env: Env) -> None:
    disk = env.client.disks.upload("bootable", env.image)
    assert (disk["format"], disk["size_bytes"]) == ("raw", 2**20)
    env.client.keypairs.create("fw-key")
    for name in ("fw1", "fw2"):  # one image, two VMs: each runs on its own copy
        vm = env.client.instances.launch(name, "disk:bootable", backend="vm", memory_mb=128, password=PASSWORD,
                                         key_name="fw-key", user_data="#!/bin/sh\necho user-data-ran\n")
        assert (vm["backend"], vm["image"]) == ("vm", "disk:bootable")
        env.vms[name] = vm
    for vm in env.vms.values():
        running = env.client.instances.wait(vm["id"], {"RUNNING", "ERROR"}, timeout=120)
        assert running["status"] == "RUNNING", running["status_reason"]
        # the image's own boot sector ran under SeaBIOS: its line is in the serial log
        eventually(lambda vm=vm: MESSAGE.decode() in env.client.instances.logs(vm["id"], tail=50), timeout=BOOT)
    fw1 = env.vms["fw1"]
    folder = folder_of(env, fw1)
    argv = Path(f"/proc/{vm_driver(env.server.platform).pid(folder)}/cmdline").read_bytes().split(b"\0")
    assert b"pc,accel=tcg" in argv and b"VGA" in argv and b"-kernel" not in argv
    # the cloud-init seed is a read-only CD-ROM, held open by QEMU, its file gone from the host
    blocks = {b["device"]: b for b in env.server.call(qmp.execute(folder / "qmp.sock", "query-block"))}
    assert blocks["seed"]["removable"] and blocks["seed"]["inserted"]["ro"]
    assert not (folder / "seed.iso").exists()
    pid = vm_driver(env.server.platform).pid(folder)
    held = [f"/proc/{pid}/fd/{fd}" for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"{folder / 'seed.iso'} (deleted)"]
    assert len(held) == 1  # only QEMU still has it
    with open(held[0], "rb") as iso:
        iso.seek(16 * 2048)  # ISO 9660's primary volume descriptor, volume id cidata
        pvd = iso.read(2048)
    assert pvd[1:6] == b"CD001" and pvd[40:46] == b"cidata"
    for path in Path(env.data_dir, "vm").rglob("*"):  # the password is nowhere on the host's disk
        if path.is_file() and path.stat().st_size < 2**20:
            assert PASSWORD.encode() not in path.read_bytes(), path
    # the uploaded disk itself is untouched and stays free: its VMs run on copies
    assert env.client.disks.get("bootable")["instance_id"] is None
    assert env.client.disks.info("bootable")["virtual_size"] == 2**20


def test_what_a_disk_image_launch_refuses(env: Env) -> None:
    before = len(env.client.instances.list())
    raises(404, env.client.instances.launch, "x", "disk:no-such-disk", backend="vm")
    raises(404, env.other.instances.launch, "x", "disk:bootable", backend="vm")  # someone else's disk
    raises(400, env.client.instances.launch, "x", "disk:bootable")  # a disk image boots as a VM only
    raises(400, env.client.instances.launch, "x", "disk:bootable", backend="vm", command=["sh"])
    raises(400, env.client.instances.launch, "x", "disk:bootable", backend="vm", env={"A": "1"})
    env.client.disks.create("iso-ish", 1)
    env.client.disks.convert("iso-ish", "vdi")
    assert env.client.disks.wait("iso-ish")["format"] == "vdi"
    assert "convert" in raises(400, env.client.instances.launch, "x", "disk:iso-ish", backend="vm").message
    env.client.disks.delete("iso-ish")
    assert len(env.client.instances.list()) == before


def display(env: Env, vm: str, headers: dict[str, str] | None = None, protocols: tuple[str, ...] = ("binary",)) -> Any:
    url = env.server.url.replace("http://", "ws://", 1) + f"/vm/{vm}/vnc"
    return ws_client.connect(url, additional_headers=headers, subprotocols=[Subprotocol(p) for p in protocols],
                             open_timeout=15, max_size=None)


def refused(conn: Any) -> tuple[str, int, str]:
    """The error code, close code and message of a display WebSocket the server turned down."""
    error = json.loads(conn.recv(timeout=30))["error"]
    with pytest.raises(websockets.ConnectionClosed) as closed:
        conn.recv(timeout=30)
    return error["code"], closed.value.rcvd.code, error["message"]


def test_the_display_shows_the_vms_vga_screen_to_its_owner_only(env: Env) -> None:
    fw1 = env.vms["fw1"]
    with display(env, fw1["id"], env.client.headers()) as conn:
        assert conn.subprotocol == "binary"
        rfb = Rfb(conn)
        assert rfb.handshake() == f"QEMU (cumulo-{env.installation}-{fw1['id']})"  # ServerInit: this VM
        # VGA text mode (80x25 of 9x16 cells) with text on it: not QEMU's 640x480 "no display" page
        def text_on_screen() -> bool:
            width, height, colours = rfb.screen()
            return (width, height) == (720, 400) and colours > 1

        assert eventually(text_on_screen, timeout=60)
    key = env.client.headers()["X-API-Key"]
    with display(env, fw1["id"], protocols=("binary", f"cumulo.key.{key}")) as conn:  # a browser's way
        assert conn.subprotocol == "binary" and conn.recv(timeout=30) == b"RFB 003.008\n"
    with display(env, fw1["id"], env.other.headers()) as conn:
        assert refused(conn)[:2] == ("NOT_FOUND", 4404)  # another user's VM
    with display(env, fw1["id"]) as conn:
        assert refused(conn)[1] == 4401  # no key
    pid = vm_driver(env.server.platform).pid(folder_of(env, fw1))
    assert pid is not None  # the display is a socket of the machine folder, never a TCP port of QEMU
    sockets = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    listening = {f"socket:[{line.split()[9]}]" for table in ("tcp", "tcp6")
                 for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:] if line.split()[3] == "0A"}
    assert not sockets & listening


def opened(env: Env, vm: dict[str, Any], stack: contextlib.ExitStack) -> Any:
    conn = stack.enter_context(display(env, vm["id"], env.client.headers()))
    assert conn.recv(timeout=30) == b"RFB 003.008\n"  # open: the guest's display greets
    return conn


def test_open_displays_are_capped_per_vm_and_per_user(env: Env) -> None:
    fw1, fw2 = env.vms["fw1"], env.vms["fw2"]
    with contextlib.ExitStack() as stack:
        first = opened(env, fw1, stack)
        opened(env, fw1, stack)  # CUMULO_VM_VNC_SESSIONS_PER_VM=2
        with display(env, fw1["id"], env.client.headers()) as conn:
            code, close, message = refused(conn)
        assert (code, close) == ("RATE_LIMITED", 4429) and "SESSIONS_PER_VM" in message
        opened(env, fw2, stack)  # another VM: the user's third (CUMULO_VM_VNC_SESSIONS_PER_USER=3)
        with display(env, fw2["id"], env.client.headers()) as conn:
            code, close, message = refused(conn)
        assert (code, close) == ("RATE_LIMITED", 4429) and "SESSIONS_PER_USER" in message
        first.close()  # a closed display frees its slots

        def reopen() -> bool:
            with display(env, fw1["id"], env.client.headers()) as conn:
                return conn.recv(timeout=30) == b"RFB 003.008\n"

        assert eventually(reopen, timeout=30)

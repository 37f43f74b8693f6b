"""Where disks come from, with real qemu-img and QEMU (TCG): a copy of a catalogue image's root disk
(``POST /disks {image}``), an image imported from an object of the user's bucket (``POST
/disks/import {source: s3://...}``, refused like an upload), and an uploaded ISO in a VM's CD-ROM
drive: a hand-made El Torito image (no-emulation boot sector printing a line to the serial port)
that SeaBIOS boots before the VM's empty hard disk."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cumulo.drivers.vm import qmp, seed
from cumulo.services.compute.vms import vm_driver
from cumulo.testing.polling import eventually
from tests.services.vms.conftest import BOOT, VmEnv, boot_code, module_env, raises

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("vm-disk-sources")]
GIB = 2**30
MESSAGE = b"CUMULO-CDROM-OK"


def el_torito(message: bytes) -> bytes:
    """An ISO 9660 image with an El Torito boot record: a no-emulation boot image of one sector,
    loaded by the BIOS at 0x7c00 (sectors: 16 PVD, 17 boot record, 18 terminator, 19/20 path tables,
    21 root directory, 22 boot catalogue, 23 the boot image)."""
    sector, when = seed.SECTOR, bytes([126, 1, 1, 0, 0, 0, 0])
    stamp = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).strftime("%Y%m%d%H%M%S00").encode() + b"\0"
    total = 24
    out = bytearray(16 * sector)
    out += seed._descriptor(1, total, seed._record(b"\0", 21, sector, True, when), 19, 20, stamp, False)
    record = b"\0CD001\1" + b"EL TORITO SPECIFICATION".ljust(32, b"\0") + b"\0" * 32 + (22).to_bytes(4, "little")
    out += record.ljust(sector, b"\0")
    out += (b"\xffCD001\1").ljust(sector, b"\0")
    out += (seed._path_table(21, False)).ljust(sector, b"\0") + (seed._path_table(21, True)).ljust(sector, b"\0")
    out += seed._directory(21, [], when)
    validation = bytearray(b"\x01\x00\x00\x00" + b"CUMULO".ljust(24, b"\0") + b"\0\0\x55\xaa")
    checksum = -sum(int.from_bytes(validation[i:i + 2], "little") for i in range(0, 32, 2)) & 0xFFFF
    validation[28:30] = checksum.to_bytes(2, "little")
    default = b"\x88\x00" + (0).to_bytes(2, "little") + b"\x00\x00" + (4).to_bytes(2, "little") + \
        (23).to_bytes(4, "little")
    out += (bytes(validation) + default.ljust(32, b"\0")).ljust(sector, b"\0")
    out += boot_code(message).ljust(sector, b"\0")
    assert len(out) == total * sector
    return bytes(out)


class Env(VmEnv):
    overrides: ClassVar[dict[str, Any]] = {"compute_reconcile_seconds": 5, "vm_stop_timeout_seconds": 1,
                                           "disk_quota_gb": 6}


env = module_env(Env, "vm-disk-sources")


def file_of(env: Env, disk: dict[str, Any]) -> Path:
    return next((env.tmp / "data").resolve().glob(f"disks/*/{disk['id']}.{disk['format']}"))


def qemu_img(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)


def test_a_disk_from_a_catalogue_image_is_a_whole_copy_of_its_root_disk(env: Env) -> None:
    made = env.client.disks.create("from-image", image="cumulo/busybox")
    assert made["status"] == "creating" and made["size_gb"] == 1  # the image's size when none is given
    done = env.client.disks.wait("from-image")
    assert (done["status"], done["progress_percent"], done["format"]) == ("available", 100.0, "qcow2"), done
    path = file_of(env, done)
    info = json.loads(qemu_img("info", "--output=json", "-f", "qcow2", str(path)).stdout)
    assert "backing-filename" not in info  # the user's own copy, not an overlay of the cached image
    base, _command = env.server.call(vm_driver(env.server.platform).artifacts.root_disk("cumulo/busybox"))
    assert qemu_img("compare", "-f", "qcow2", "-F", "qcow2", str(base), str(path)).returncode == 0
    grown = env.client.disks.create("grown", 3, "raw", image="cumulo/busybox")
    grown = env.client.disks.wait(grown["id"])
    assert (grown["status"], grown["size_gb"], grown["format"]) == ("available", 3, "raw"), grown
    assert env.client.disks.info("grown")["virtual_size"] == 3 * GIB
    assert qemu_img("compare", "-f", "qcow2", "-F", "raw", str(base), str(file_of(env, grown))).returncode == 0
    used = {q["kind"]: q for q in env.client.get("/quotas")}
    assert used["disk_gib"]["used"] == 4  # both count against the quota


def test_what_a_disk_from_an_image_refuses(env: Env) -> None:
    before = len(env.client.disks.list())
    raises(404, env.client.disks.create, "x", 1, image="cumulo/no-such-image")
    raises(404, env.client.disks.create, "x", 1, image="someone-elses-image")
    message = raises(400, env.client.disks.create, "x", 1, image="cumulo/mariadb").message  # a 2 GiB root disk
    assert "smaller than the image" in message
    raises(400, env.client.disks.create, "x")  # an empty disk needs a size
    raises(403, env.client.disks.create, "x", 3, image="cumulo/busybox")  # 4 + 3 > CUMULO_DISK_QUOTA_GB 6
    raises(409, env.client.disks.create, "grown", 1, image="cumulo/busybox")
    assert len(env.client.disks.list()) == before  # nothing half-created
    assert env.other.disks.list() == []
    raises(404, env.other.disks.get, "from-image")
    env.client.disks.delete("grown")


def test_an_image_imported_from_the_users_bucket_and_refused_like_an_upload(env: Env) -> None:
    bucket = f"images-{uuid.uuid4().hex[:8]}"
    env.client.storage.create_bucket(bucket)
    raw = (boot_code(b"IMPORTED").ljust(510, b"\0") + b"\x55\xaa").ljust(2**20, b"\0")
    env.client.storage.put(bucket, "boot.raw", raw)
    evil, data_file = env.tmp / "evil.qcow2", env.tmp / "external.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(evil), "1M").returncode == 0
    assert qemu_img("create", "-q", "-f", "qcow2", "-o", f"data_file={env.tmp / 'data.raw'}", str(data_file),
                    "1M").returncode == 0
    env.client.storage.put(bucket, "evil.qcow2", evil.read_bytes())
    env.client.storage.put(bucket, "external.qcow2", data_file.read_bytes())
    disk = env.client.disks.import_image("imported", f"s3://{bucket}/boot.raw")
    assert (disk["status"], disk["format"], disk["size_bytes"]) == ("available", "raw", 2**20)
    assert file_of(env, disk).read_bytes() == raw  # the object's bytes
    before = len(env.client.disks.list())
    assert "backing file" in raises(400, env.client.disks.import_image, "evil", f"s3://{bucket}/evil.qcow2").message
    assert "data file" in raises(400, env.client.disks.import_image, "ext", f"s3://{bucket}/external.qcow2").message
    raises(404, env.client.disks.import_image, "x", f"s3://{bucket}/missing.raw")
    raises(404, env.client.disks.import_image, "x", f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}/boot.raw")
    raises(400, env.client.disks.import_image, "x", f"https://example.com/{bucket}/boot.raw")
    raises(409, env.client.disks.import_image, "imported", f"s3://{bucket}/boot.raw")
    assert len(env.client.disks.list()) == before  # nothing kept of the refused ones
    raises(404, env.other.disks.import_image, "mine", f"s3://{bucket}/boot.raw")  # another user's bucket
    assert env.other.disks.list() == []
    env.client.disks.delete("imported")


def test_an_uploaded_iso_boots_from_the_cdrom_drive_of_a_vm(env: Env) -> None:
    iso = env.tmp / "installer.iso"
    iso.write_bytes(el_torito(MESSAGE))
    cd = env.client.disks.upload("installer", iso)
    assert cd["format"] == "raw"
    env.client.disks.create("hd", 1, "raw")  # an empty hard disk: only the CD-ROM can boot
    before = len(env.client.instances.list())
    raises(400, env.client.instances.launch, "x", "disk:hd", backend="vm", cdrom="hd")  # not an ISO
    raises(404, env.client.instances.launch, "x", "disk:hd", backend="vm", cdrom="no-such-disk")
    raises(400, env.client.instances.launch, "x", "cumulo/busybox", backend="vm", cdrom="installer")  # microvm
    raises(400, env.client.instances.launch, "x", "cumulo/busybox", cdrom="installer")  # a container
    env.other.disks.create("their-hd", 1, "raw")
    raises(404, env.other.instances.launch, "x", "disk:their-hd", backend="vm", cdrom=cd["id"])  # not theirs
    assert len(env.client.instances.list()) == before
    vm = env.client.instances.launch("cd1", "disk:hd", backend="vm", memory_mb=128, cdrom="installer")
    vm = env.client.instances.wait(vm["id"], {"RUNNING", "ERROR"}, timeout=120)
    assert vm["status"] == "RUNNING" and vm["cdrom"] == cd["id"], vm
    eventually(lambda: MESSAGE.decode() in env.client.instances.logs(vm["id"], tail=50), timeout=BOOT)
    driver = vm_driver(env.server.platform)
    folder = driver.folder(f"cumulo-{env.installation}-{vm['id']}")
    argv = Path(f"/proc/{driver.pid(folder)}/cmdline").read_bytes().split(b"\0")
    assert b"pc,accel=tcg" in argv and any(a.startswith(b"ide-cd,drive=cdrom") and b"bootindex=0" in a
                                            for a in argv)
    blocks = {b["device"]: b for b in env.server.call(qmp.execute(folder / "qmp.sock", "query-block"))}
    assert blocks["cdrom"]["removable"] and blocks["cdrom"]["inserted"]["ro"]
    assert blocks["cdrom"]["inserted"]["file"] == str(file_of(env, cd))  # the user's ISO itself, read-only
    for call, args in ((env.client.disks.delete, ()), (env.client.disks.convert, ("qcow2",))):
        raises(409, call, "installer", *args)  # open in the running VM
    ejected = env.client.instances.update(vm["id"], cdrom=None)
    assert ejected["cdrom"] is None
    blocks = {b["device"]: b for b in env.server.call(qmp.execute(folder / "qmp.sock", "query-block"))}
    assert "inserted" not in blocks["cdrom"]  # the drive is empty at once
    raises(400, env.client.instances.update, vm["id"], cdrom="hd")
    env.client.disks.delete("installer")  # no VM holds it any more
    env.client.instances.terminate(vm["id"])
    env.client.disks.delete("hd")

"""Disks (/disks) with the real qemu-img: create, resize, convert (bytes identical per qemu-img
compare), rename, clone, delete; uploads inspected and refused when they name a backing or data
file; another user's disk is 404; bad input is 400 and creates nothing; quotas."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cumulo.client.base import ApiError, Client
from cumulo.testing.server import LiveServer

GIB = 2**30


def raises(status: int, fn: Any, *args: Any, **kw: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        fn(*args, **kw)
    assert err.value.status == status, err.value
    return err.value


def file_of(server: LiveServer, user: Client, disk: dict[str, Any]) -> Path:
    me = user.identity.me()["id"]
    return server.settings.data_dir.resolve() / "disks" / me / f"{disk['id']}.{disk['format']}"


def same(a: Path, a_fmt: str, b: Path, b_fmt: str) -> bool:
    return subprocess.run(["qemu-img", "compare", "-q", "-f", a_fmt, "-F", b_fmt, str(a), str(b)],
                          check=False).returncode == 0


@pytest.fixture
def patterned(tmp_path: Path) -> Path:
    """A raw image of 16 MiB (over the API's 10 MiB body limit: uploads stream) with recognisable
    bytes at the start, in the middle and at the end."""
    path = tmp_path / "data.raw"
    with open(path, "wb") as f:
        f.write(os.urandom(1 << 20))
        f.seek(4 << 20)
        f.write(b"middle" * 1000)
        f.seek((16 << 20) - 4096)
        f.write(b"\xee" * 4096)
    return path


def test_create_resize_and_shrink_only_when_allowed(server: LiveServer, user: Client) -> None:
    d = user.disks.create("root", 2, "qcow2")
    assert d["status"] == "available" and d["size_gb"] == 2 and d["format"] == "qcow2"
    assert user.disks.info("root")["virtual_size"] == 2 * GIB
    started = user.disks.resize("root", 3)
    assert started["status"] in ("resizing", "available") and started["operation"] == "resize"
    done = user.disks.wait("root")
    assert done["status"] == "available" and done["size_gb"] == 3 and done["progress_percent"] == 100
    assert user.disks.info(d["id"])["virtual_size"] == 3 * GIB
    err = raises(400, user.disks.resize, "root", 1)
    assert "allow_shrink" in err.message
    assert user.disks.info("root")["virtual_size"] == 3 * GIB
    user.disks.resize("root", 1, allow_shrink=True)
    shrunk = user.disks.wait("root")
    assert shrunk["size_gb"] == 1 and "shrunk" in shrunk["warning"]
    assert user.disks.info("root")["virtual_size"] == 1 * GIB
    user.disks.delete("root")
    raises(404, user.disks.get, "root")
    assert not file_of(server, user, d).exists()


def test_convert_keeps_every_byte_and_clone_copies(server: LiveServer, user: Client, patterned: Path) -> None:
    up = user.disks.upload("data", patterned)
    assert up["format"] == "raw" and up["size_bytes"] == 16 << 20 and up["size_gb"] == 1
    assert same(patterned, "raw", file_of(server, user, up), "raw")
    for fmt in ("qcow2", "vmdk", "vdi", "raw"):
        started = user.disks.convert("data", fmt)
        assert started["operation"] == "convert"
        done = user.disks.wait("data")
        assert done["status"] == "available" and done["format"] == fmt and done["error"] is None
        assert same(patterned, "raw", file_of(server, user, done), fmt), fmt
        assert sorted(p.suffix for p in file_of(server, user, done).parent.glob(f"{up['id']}.*")) == [f".{fmt}"]
    raises(400, user.disks.convert, "data", "raw")  # already raw
    renamed = user.disks.rename("data", "data2")
    assert renamed["name"] == "data2" and renamed["id"] == up["id"]
    raises(404, user.disks.get, "data")
    copy = user.disks.clone("data2", "copy")
    assert copy["status"] in ("cloning", "available") and copy["id"] != up["id"]
    copy = user.disks.wait("copy")
    assert copy["status"] == "available"
    assert same(patterned, "raw", file_of(server, user, copy), copy["format"])
    raises(409, user.disks.clone, "data2", "copy")  # the name is taken
    for name in ("copy", "data2"):
        user.disks.delete(name)


def test_images_naming_a_host_file_are_refused(server: LiveServer, user: Client, tmp_path: Path) -> None:
    backing = tmp_path / "evil-backing.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(backing)],
                   check=True)
    err = raises(400, user.disks.upload, "evil", backing)
    assert "backing file" in err.message
    data_file = tmp_path / "evil-data.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", f"data_file={tmp_path / 'outside.raw'}",
                    str(data_file), "1M"], check=True)
    err = raises(400, user.disks.upload, "evil", data_file)
    assert "data file" in err.message
    vmdk = tmp_path / "evil.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", str(vmdk), "1M"], check=True)
    raises(400, user.disks.upload, "evil", vmdk)  # only qcow2 and raw are taken in
    assert [d["name"] for d in user.disks.list()] == []
    folder = server.settings.data_dir.resolve() / "disks" / user.identity.me()["id"]
    assert not folder.exists() or list(folder.iterdir()) == []


def test_another_users_disk_is_404(server: LiveServer, user: Client, other_user: Client) -> None:
    d = user.disks.create("mine", 1)
    for call, args in ((other_user.disks.get, ()), (other_user.disks.info, ()), (other_user.disks.delete, ()),
                       (other_user.disks.resize, (2,)), (other_user.disks.convert, ("raw",)),
                       (other_user.disks.rename, ("x",)), (other_user.disks.clone, ("x",))):
        raises(404, call, d["id"], *args)
    assert other_user.disks.list() == []
    assert user.disks.get(d["id"])["size_gb"] == 1
    user.disks.delete(d["id"])


def test_bad_input_is_400_and_creates_nothing(server: LiveServer, user: Client, tmp_path: Path) -> None:
    for body in ({"name": "x", "size_gb": 0}, {"name": "x", "size_gb": 1, "format": "vhd"},
                 {"name": "../x", "size_gb": 1}, {"name": "x"}, {"name": "x", "size_gb": 1, "extra": 1},
                 {"name": "x", "size_gb": "big"}):
        raises(400, user.post, "/disks", body)
    raises(400, user.disks.create, "x", server.settings.disk_max_size_gb + 1)
    empty = tmp_path / "empty.raw"
    empty.write_bytes(b"")
    raises(400, user.disks.upload, "x", empty)
    raises(400, user.disks.upload, "../x", empty)
    d = user.disks.create("ok", 1)
    raises(400, user.post, f"/disks/{d['id']}/convert", {"format": "exe"})
    raises(400, user.post, f"/disks/{d['id']}/resize", {"size_gb": -1})
    assert [x["name"] for x in user.disks.list()] == ["ok"]
    user.disks.delete("ok")


def test_the_size_quota_counts_virtual_sizes(server: LiveServer, user: Client) -> None:
    cap, biggest = server.settings.disk_quota_gb, server.settings.disk_max_size_gb // 2
    made = []
    while sum(d["size_gb"] for d in made) + biggest <= cap:
        made.append(user.disks.create(f"d{len(made)}", biggest))
    left = cap - sum(d["size_gb"] for d in made)
    if left:
        made.append(user.disks.create("rest", left))
    err = raises(403, user.disks.create, "over", 1)
    assert err.code == "QUOTA_EXCEEDED"
    raises(403, user.disks.resize, made[0]["id"], made[0]["size_gb"] + 1)
    for d in made:
        user.disks.delete(d["id"])


def qemu_io(path: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, str(path)], capture_output=True, text=True,
                          check=False)


def test_snapshot_and_revert(server: LiveServer, user: Client, other_user: Client) -> None:
    d = user.disks.create("snappy", 1, "qcow2")
    path = file_of(server, user, d)
    assert qemu_io(path, "write -P 0x61 0 64k").returncode == 0
    snap = user.disks.snapshot("snappy", "first")
    assert snap["name"] == "first" and [s["name"] for s in user.disks.snapshots("snappy")] == ["first"]
    raises(409, user.disks.snapshot, "snappy", "first")
    assert qemu_io(path, "write -P 0x62 0 64k").returncode == 0  # changed after the snapshot
    reverted = user.disks.revert("snappy", "first")
    assert reverted["size_gb"] == 1
    out = qemu_io(path, "read -P 0x61 0 64k")
    assert out.returncode == 0 and "Pattern verification failed" not in out.stdout + out.stderr
    raises(404, user.disks.revert, "snappy", "nope")
    for call in (other_user.disks.snapshots, other_user.disks.detach):
        raises(404, call, "snappy")
    raises(404, other_user.disks.revert, d["id"], "first")
    raises(404, other_user.disks.snapshot, d["id"], "mine")
    raises(400, user.disks.snapshot, "snappy", "bad name!")
    raw = user.disks.create("plain", 1, "raw")
    raises(400, user.disks.snapshot, raw["id"], "s")  # snapshots live inside qcow2 files
    assert user.disks.snapshots(raw["id"]) == []
    user.disks.delete_snapshot("snappy", "first")
    assert user.disks.snapshots("snappy") == []
    raises(400, user.disks.detach, "snappy")  # not attached
    raises(404, user.disks.attach, "snappy", "no-such-instance")
    for name in ("snappy", "plain"):
        user.disks.delete(name)

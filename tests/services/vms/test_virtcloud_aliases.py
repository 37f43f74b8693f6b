"""VirtCloud's ``/vm/...`` paths as aliases of Cumulo's disks and VMs (no VM boot here: the VM
module checks /vm/list and /vm/stats/runtime with a running VM)."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.client.base import ApiError, Client
from cumulo.services.vms.service import gib
from cumulo.testing.server import LiveServer


def status_of(fn: Any, *args: Any) -> int:
    with pytest.raises(ApiError) as err:
        fn(*args)
    return err.value.status


def test_sizes() -> None:
    assert (gib("10G"), gib("+5G"), gib(3), gib("1T"), gib("512M")) == (10, 5, 3, 1024, 1)
    for bad in ("", "ten", "5X", "-1G"):
        with pytest.raises(Exception, match="size"):
            gib(bad)


def test_disk_aliases(server: LiveServer, user: Client, other_user: Client) -> None:
    made = user.post("/vm/disk/create", {"name": "vc", "size": "2G", "format": "qcow2"})
    assert made["size_gb"] == 2 and made["format"] == "qcow2"
    assert user.post("/vm/disk-info", {"name": "vc.qcow2"})["virtual_size"] == 2 * 2**30
    user.post("/vm/resize-disk", {"name": "vc", "resize_by": "+1G"})
    assert user.disks.wait("vc")["size_gb"] == 3
    assert user.post("/vm/disk/rename", {"current_name": "vc.qcow2", "new_name": "vc2.qcow2"})["name"] == "vc2"
    user.post("/vm/disk/convert", {"source_name": "vc2", "target_format": "raw"})
    assert user.disks.wait("vc2")["format"] == "raw"
    assert status_of(other_user.post, "/vm/disk/info", {"name": "vc2"}) == 404
    for body in ({"name": "x", "size": "lots"}, {"name": "x", "size": "1G", "format": "iso"},
                 {"name": "bad name", "size": 1}, {"size": 1}):
        assert status_of(user.post, "/vm/disk/create", body) == 400, body
    assert status_of(user.post, "/vm/disk/convert", {"source_name": "vc2", "target_format": "zip"}) == 400
    assert [d["name"] for d in user.disks.list()] == ["vc2"]  # nothing half-made by the refusals
    user.disks.delete("vc2")


def test_vm_aliases_without_vms(server: LiveServer, user: Client) -> None:
    assert user.get("/vm/list") == {"vms": []}
    assert user.get("/vm/stats/runtime") == user.get("/vm/runtime-stats") == {"vms": [], "current_total_cost": 0.0}
    for path in ("/vm/start", "/vm/stop", "/vm/delete"):
        assert status_of(user.post, path, {"vm_id": "no-such-vm"}) == 404
        assert status_of(user.post, path, {}) == 400

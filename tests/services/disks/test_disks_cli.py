"""`cumulo disks ...` as a user types it, against the live server (qemu-img for real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cumulo.client.base import Client
from cumulo.testing.server import LiveServer
from tests.cli.conftest import _runner


@pytest.fixture
def cli(tmp_path: Path, server: LiveServer, user: Client) -> Any:
    return _runner(tmp_path, server, user.api_key or "")


def test_disk_commands_follow_the_operations(cli: Any) -> None:
    def js(*args: str) -> Any:
        return json.loads(cli("--json", *args).output)

    made = js("disks", "create", "boot", "--size", "1", "--format", "raw")
    assert made["format"] == "raw" and made["status"] == "available"
    grown = js("disks", "resize", "boot", "--size", "2")  # waits for the background operation
    assert grown["status"] == "available" and grown["size_gb"] == 2
    refused = cli("disks", "resize", "boot", "--size", "1", ok=False)
    assert refused.exit_code != 0 and "allow_shrink" in refused.output
    converted = js("disks", "convert", "boot", "--format", "qcow2")
    assert converted["format"] == "qcow2" and converted["status"] == "available"
    assert js("disks", "rename", "boot", "root")["name"] == "root"
    assert js("disks", "clone", "root", "copy")["status"] == "available"
    assert sorted(d["name"] for d in js("disks", "list")) == ["copy", "root"]
    assert js("disks", "snapshot", "root", "s1")["name"] == "s1"
    assert [s["name"] for s in js("disks", "snapshots", "root")] == ["s1"]
    assert js("disks", "revert", "root", "s1", "--yes")["name"] == "root"
    assert "deleted snapshot" in cli("disks", "delete-snapshot", "root", "s1", "--yes").output
    refused = cli("disks", "attach", "root", "no-such-vm", ok=False)
    assert refused.exit_code != 0 and "not found" in refused.output.lower()
    for name in ("root", "copy"):
        assert "deleted" in cli("disks", "delete", name, "--yes").output
    assert js("disks", "list") == []

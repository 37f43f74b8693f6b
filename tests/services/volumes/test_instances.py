"""Volumes on real instances: attach at launch, data surviving termination, re-attachment to another
instance, attach/detach on a running instance."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.network.dockerkit import IMAGE, container_of, exec_in, status_of

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it

SLEEP = ["sleep", "3600"]


def _launch(c: Any, name: str, **extra: Any) -> dict[str, Any]:
    inst = c.post("/instances", {"name": name, "image": IMAGE, "command": SLEEP, **extra})
    assert inst["status"] == "RUNNING", inst
    return inst  # type: ignore[no-any-return]


def _wait_for_mount(instance_id: str, path: str, present: bool) -> None:
    """The compute reconciler recreates the container after an attach/detach: wait for the new one."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            mounts = {m["Destination"] for m in container_of(instance_id).attrs["Mounts"]}
            if (path in mounts) == present:
                return
        except AssertionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{path} never became {'mounted' if present else 'unmounted'} in {instance_id}")


def test_data_survives_termination_and_reattachment(sqlite_user, busybox) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_user
    vol = c.post("/volumes", {"name": "pgdata", "size_gb": 1})
    first = _launch(c, "writer", volumes=[{"volume_id": "pgdata", "mount_path": "/var/lib/data"}])
    assert c.get("/volumes/pgdata")["instance_id"] == first["id"]
    assert exec_in(first["id"], "echo survived > /var/lib/data/note")[0] == 0
    assert status_of(lambda: c.delete("/volumes/pgdata")) == 409
    assert status_of(lambda: _launch(c, "thief", volumes=[{"volume_id": vol["id"], "mount_path": "/d"}])) == 409
    c.delete(f"/instances/{first['id']}")
    assert c.get("/volumes/pgdata")["status"] == "available"
    second = _launch(c, "reader", volumes=[{"volume_id": vol["id"], "mount_path": "/mnt/again"}])
    assert exec_in(second["id"], "cat /mnt/again/note") == (0, "survived\n")
    # size enforced inside the instance too
    code, out = exec_in(second["id"], "dd if=/dev/zero of=/mnt/again/fill bs=1M count=1100 2>&1")
    assert code != 0 and "No space left on device" in out
    c.delete(f"/instances/{second['id']}")
    c.delete("/volumes/pgdata")


def test_attach_and_detach_on_a_running_instance(sqlite_user, other_user_sqlite, busybox) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_user
    vol = c.post("/volumes", {"name": "hot", "size_gb": 1})
    inst = _launch(c, "host")
    assert status_of(lambda: c.post("/volumes/hot/attach", {"instance_id": inst["id"], "mount_path": "etc"})) == 400
    assert status_of(lambda: c.post("/volumes/hot/attach", {"instance_id": "nope", "mount_path": "/d"})) == 404
    assert status_of(lambda: other_user_sqlite.post("/volumes", {"name": "theirs", "size_gb": 1}) and
                     other_user_sqlite.post("/volumes/theirs/attach", {"instance_id": inst["id"],
                                                                        "mount_path": "/d"})) == 404
    other_user_sqlite.delete("/volumes/theirs")
    assert status_of(lambda: c.post("/volumes/hot/detach")) == 409
    out = c.post("/volumes/hot/attach", {"instance_id": "host", "mount_path": "/data"})
    assert (out["status"], out["instance_id"], out["mount_path"]) == ("in-use", inst["id"], "/data")
    _wait_for_mount(inst["id"], "/data", present=True)
    assert exec_in(inst["id"], "echo hot > /data/f && df -k /data | tail -1")[0] == 0
    assert status_of(lambda: c.post("/volumes/hot/attach", {"instance_id": "host", "mount_path": "/x"})) == 409
    assert c.post("/volumes/hot/detach")["status"] == "available"
    _wait_for_mount(inst["id"], "/data", present=False)
    c.delete(f"/instances/{inst['id']}")
    c.delete(f"/volumes/{vol['id']}")


def test_attach_keeps_the_host_port_records_why_and_says_the_root_filesystem_is_reset(  # type: ignore[no-untyped-def]
        server_sqlite, sqlite_user, busybox, tmp_path) -> None:
    """Before: the recreation took a new host port, its event said the container 'had disappeared', and
    the answer did not say that files outside volumes were gone."""
    from tests.services.compute.conftest import HTTPD, eventually, host_port, http_body

    c = sqlite_user
    vol = c.post("/volumes", {"name": "keep", "size_gb": 1})
    inst = c.post("/instances", {"name": "web", "image": IMAGE, "ports": "0:80", "command": HTTPD})
    port = host_port(inst)
    assert exec_in(inst["id"], "echo scratch > /root-note")[0] == 0
    out = c.post("/volumes/keep/attach", {"instance_id": "web", "mount_path": "/data"})
    assert out["root_filesystem_reset"] is True and "root filesystem" in out["warnings"][0]
    _wait_for_mount(inst["id"], "/data", present=True)
    again = c.get(f"/instances/{inst['id']}")
    assert host_port(again) == port and again["status"] == "RUNNING"
    assert "cumulo/busybox" in eventually(lambda: http_body(port))
    assert exec_in(inst["id"], "cat /root-note")[0] != 0  # what the warning said
    recreated = eventually(lambda: [e for e in c.events(limit=50)
                                    if e["action"] == "instance.recreated" and e["resource_id"] == inst["id"]])
    assert recreated[0]["data"]["reason"] == "volume attached: keep at /data"
    assert recreated[0]["data"]["root_filesystem_reset"] is True
    detached = c.post("/volumes/keep/detach")
    assert detached["root_filesystem_reset"] is True
    _wait_for_mount(inst["id"], "/data", present=False)
    assert host_port(c.get(f"/instances/{inst['id']}")) == port
    # the CLI says it too
    from typer.testing import CliRunner

    from cumulo.cli.main import app

    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": server_sqlite.url, "CUMULO_API_KEY": c.api_key or ""}
    result = CliRunner().invoke(app, ["volumes", "attach", "keep", "web", "--path", "/cli"], env=env)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "warning:" in said and "root filesystem is reset" in said
    _wait_for_mount(inst["id"], "/cli", present=True)
    c.post("/volumes/keep/detach")
    c.delete(f"/instances/{inst['id']}")
    c.delete(f"/volumes/{vol['id']}")

"""Instances on the real Docker Engine: launch, reach, stop/start/reboot, logs, stats, console, ttl,
terminate; ownership and bad input (the latter on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing.server import LiveServer
from tests.conftest import concurrent_statuses, register_and_login
from tests.services.compute.conftest import HTTPD, eventually, host_port, http_body

pytestmark = pytest.mark.docker


def iname() -> str:
    return f"i-{uuid.uuid4().hex[:10]}"


def launch_httpd(client: Client, **fields: Any) -> dict[str, Any]:
    return client.instances.launch(fields.pop("name", iname()), "cumulo/busybox", ports="0:80", command=HTTPD,
                                   **fields)


def test_httpd_instance_reachable_then_stop_start_reboot_logs_stats_terminate(
        server_sqlite: LiveServer, sqlite_user: Client, containers_of) -> None:  # type: ignore[no-untyped-def]
    inst = launch_httpd(sqlite_user, cpus=0.5, memory_mb=64)
    assert inst["status"] == "RUNNING", inst
    port = host_port(inst)
    assert port > 0 and inst["ports"] == f"{port}:80"
    assert "cumulo/busybox" in eventually(lambda: http_body(port))
    assert sqlite_user.instances.get(inst["name"])["id"] == inst["id"]  # by name too
    assert inst["id"] in [i["id"] for i in sqlite_user.instances.list()]

    (container,) = containers_of(**{"cumulo.resource": inst["id"]})
    host_config = container.attrs["HostConfig"]
    assert (host_config["NanoCpus"], host_config["Memory"]) == (500_000_000, 64 * 1024 * 1024)
    assert host_config["PidsLimit"] == server_sqlite.settings.compute_pids_limit
    assert container.labels["cumulo.owner"] and container.labels["cumulo.kind"] == "instance"
    assert container.labels["cumulo.installation"] == server_sqlite.platform.installation_id

    assert "hello-from-instance" in eventually(lambda: sqlite_user.instances.logs(inst["id"], tail=10))
    stats = sqlite_user.instances.stats(inst["id"])
    assert stats["memory_bytes"] > 0 and stats["pids"] >= 1 and stats["memory_limit_bytes"] == 64 * 1024 * 1024

    stopped = sqlite_user.instances.stop(inst["id"])
    assert stopped["status"] == "STOPPED"
    container.reload()
    assert container.status == "exited"
    with pytest.raises(ApiError) as err:
        sqlite_user.instances.stats(inst["id"])
    assert err.value.status == 409

    started = sqlite_user.instances.start(inst["id"])
    assert started["status"] == "RUNNING"
    assert "cumulo/busybox" in eventually(lambda: http_body(host_port(started)))

    rebooted = sqlite_user.instances.reboot(inst["id"])
    assert rebooted["status"] == "RUNNING"
    assert "cumulo/busybox" in eventually(lambda: http_body(host_port(rebooted)))
    assert len(containers_of(**{"cumulo.resource": inst["id"]})) == 1

    sqlite_user.instances.terminate(inst["id"])
    with pytest.raises(ApiError) as err:
        sqlite_user.instances.get(inst["id"])
    assert err.value.status == 404
    assert containers_of(**{"cumulo.resource": inst["id"]}) == []
    actions = {e["action"] for e in sqlite_user.events(limit=50) if e["resource_id"] == inst["id"]}
    assert {"instance.launched", "instance.stopped", "instance.started", "instance.rebooted",
            "instance.deleted"} <= actions


def test_another_users_instance_is_404_everywhere(server_sqlite: LiveServer, sqlite_user: Client) -> None:
    inst = launch_httpd(sqlite_user)
    with register_and_login(server_sqlite) as other:
        assert other.instances.list() == []
        calls = [lambda: other.instances.get(inst["id"]), lambda: other.instances.get(inst["name"]),
                 lambda: other.instances.stop(inst["id"]), lambda: other.instances.start(inst["id"]),
                 lambda: other.instances.reboot(inst["id"]), lambda: other.instances.update(inst["id"], name="x"),
                 lambda: other.instances.logs(inst["id"]), lambda: other.instances.stats(inst["id"]),
                 lambda: other.instances.terminate(inst["id"])]
        for call in calls:
            with pytest.raises(ApiError) as err:
                call()
            assert err.value.status == 404
        with other.instances.console(inst["id"]) as ws:  # the console refuses too
            assert json.loads(ws.recv(timeout=10))["error"]["code"] == "NOT_FOUND"
    assert sqlite_user.instances.get(inst["id"])["status"] == "RUNNING"
    sqlite_user.instances.terminate(inst["id"])


def test_console_gives_an_interactive_shell(sqlite_user: Client) -> None:
    inst = sqlite_user.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"])
    seen = b""
    with sqlite_user.instances.console(inst["id"]) as ws:
        ws.send(json.dumps({"resize": [100, 30]}))
        ws.send(b"echo answer-$((6*7)); stty size\n")
        while b"answer-42" not in seen or b"30 100" not in seen:
            seen += ws.recv(timeout=15)
        ws.send(b"exit\n")
    sqlite_user.instances.terminate(inst["id"])


def test_password_reaches_the_instance_but_never_the_api_or_events(sqlite_user: Client, containers_of) -> None:  # type: ignore[no-untyped-def]
    secret = f"pw-{uuid.uuid4().hex}"
    inst = sqlite_user.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"], password=secret)
    assert inst["has_password"] is True
    everything = json.dumps([inst, sqlite_user.instances.list(), sqlite_user.events(limit=100)])
    assert secret not in everything
    (container,) = containers_of(**{"cumulo.resource": inst["id"]})
    assert secret not in json.dumps(container.labels)
    assert secret not in json.dumps(container.attrs)  # a file on a tmpfs, not the container's environment
    code, out = container.exec_run(["cat", "/run/secrets/CUMULO_PASSWORD"])
    assert code == 0 and out.decode() == secret
    sqlite_user.instances.terminate(inst["id"])


def test_ttl_expiry_terminates_by_the_scheduler(sqlite_user: Client, containers_of) -> None:  # type: ignore[no-untyped-def]
    inst = sqlite_user.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"], ttl_seconds=1)
    assert inst["expires_at"] is not None
    keep = sqlite_user.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"], ttl_seconds=3600)

    def gone() -> bool:
        try:
            sqlite_user.instances.get(inst["id"])
            return False
        except ApiError as exc:
            return exc.status == 404

    eventually(gone, timeout=30)
    eventually(lambda: containers_of(**{"cumulo.resource": inst["id"]}) == [])
    assert any(e["action"] == "instance.expired" and e["resource_id"] == inst["id"]
               for e in sqlite_user.events(limit=50))
    # ttl can be changed (from now) and removed
    updated = sqlite_user.instances.update(keep["id"], ttl_seconds=None, name=keep["name"] + "-renamed")
    assert updated["expires_at"] is None and updated["name"] == keep["name"] + "-renamed"
    assert sqlite_user.instances.get(keep["id"])["status"] == "RUNNING"
    sqlite_user.instances.terminate(keep["id"])


def test_crashed_container_shows_error_and_start_recovers(server_sqlite: LiveServer, sqlite_user: Client,
                                                          containers_of) -> None:  # type: ignore[no-untyped-def]
    inst = launch_httpd(sqlite_user)
    (container,) = containers_of(**{"cumulo.resource": inst["id"]})
    container.kill()
    server_sqlite.platform.runner.wake("compute.reconcile")
    failed = sqlite_user.instances.wait(inst["id"], {"ERROR"}, timeout=30)
    assert failed["status"] == "ERROR" and "stopped on its own" in failed["status_reason"]
    assert any(e["action"] == "instance.failed" for e in sqlite_user.events(limit=20)
               if e["resource_id"] == inst["id"])
    assert sqlite_user.instances.start(inst["id"])["status"] == "RUNNING"
    sqlite_user.instances.terminate(inst["id"])


def test_deleted_behind_our_back_is_recreated_and_orphans_removed(server_sqlite: LiveServer, sqlite_user: Client,
                                                                  docker_client, containers_of) -> None:  # type: ignore[no-untyped-def]
    inst = launch_httpd(sqlite_user)
    (container,) = containers_of(**{"cumulo.resource": inst["id"]})
    container.remove(force=True)
    orphan_id = str(uuid.uuid4())
    labels = {"cumulo.installation": server_sqlite.platform.installation_id, "cumulo.kind": "instance",
              "cumulo.resource": orphan_id}
    docker_client.containers.create("cumulo/busybox", ["sleep", "600"], labels=labels)
    foreign = docker_client.containers.create("cumulo/busybox", ["sleep", "600"], labels={
        **labels, "cumulo.installation": "someone-else"})
    server_sqlite.platform.runner.wake("compute.reconcile")
    eventually(lambda: not containers_of(**{"cumulo.resource": orphan_id, "cumulo.installation":
                                             server_sqlite.platform.installation_id}))
    (fresh,) = eventually(lambda: containers_of(**{"cumulo.resource": inst["id"]}))
    assert fresh.id != container.id
    healed = sqlite_user.instances.wait(inst["id"], {"RUNNING"})
    assert "cumulo/busybox" in eventually(lambda: http_body(host_port(healed)))
    foreign.reload()  # another installation's container is never touched
    foreign.remove(force=True)
    sqlite_user.instances.terminate(inst["id"])


# --- validation and quotas: DB logic, on SQLite and PostgreSQL ----------------------------------------

@pytest.mark.parametrize("body", [
    {"ports": "80"}, {"ports": "80:80,80:81"}, {"ports": "70000:80"}, {"ports": "1:0"}, {"ports": "a:b"},
    {"ports": ",".join(f"0:{p}" for p in range(1, 12))}, {"ports": "-1:80"},
    {"image": "nope/never"}, {"image": "busybox:latest"}, {"image": "../etc"},
    {"vpc_id": str(uuid.uuid4())}, {"subnet_id": "not-a-subnet"},
    {"name": "bad name!"}, {"name": ""}, {"name": "x" * 64},
    {"cpus": 0}, {"cpus": 1000}, {"memory_mb": 1}, {"ttl_seconds": 0}, {"command": []}, {"command": "sh"},
    {"env": {"1BAD": "x"}}, {"env": {"CUMULO_PASSWORD": "x"}}, {"password": "a:b"}, {"unknown": 1},
    {"volumes": [{"volume_id": str(uuid.uuid4()), "mount_path": "/data"}]},
])
def test_bad_input_is_a_clear_4xx_and_leaves_nothing(user: Client, body: dict[str, Any], containers_of) -> None:  # type: ignore[no-untyped-def]
    payload = {"name": iname(), "image": "cumulo/busybox", **body}
    with pytest.raises(ApiError) as err:
        user.post("/instances", payload)
    assert 400 <= err.value.status < 500 and err.value.message
    assert err.value.status in (400, 404)
    assert user.instances.list() == []
    assert containers_of(**{"cumulo.owner": user.identity.me()["id"]}) == []


def test_names_unique_per_user_and_quota_names_what_is_exceeded(user: Client, other_user: Client) -> None:
    name = iname()
    inst = user.instances.launch(name, "cumulo/busybox", command=["sleep", "600"], cpus=0.25, memory_mb=32)
    with pytest.raises(ApiError) as err:
        user.instances.launch(name, "cumulo/busybox", command=["sleep", "600"])
    assert err.value.status == 409
    other = other_user.instances.launch(name, "cumulo/busybox", command=["sleep", "600"], cpus=0.25, memory_mb=32)
    for fields, word in (({"cpus": 64}, "vCPUs"), ({"memory_mb": 262144}, "memory")):
        with pytest.raises(ApiError) as err:
            user.instances.launch(iname(), "cumulo/busybox", **fields)
        assert (err.value.status, err.value.code) == (403, "QUOTA_EXCEEDED") and word in err.value.message
    assert [i["name"] for i in user.instances.list()] == [name]
    user.instances.terminate(inst["id"])
    other_user.instances.terminate(other["id"])


def test_instance_count_quota(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(compute_max_instances=1)
    with register_and_login(live) as client:
        first = client.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"])
        with pytest.raises(ApiError) as err:
            client.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"])
        assert err.value.code == "QUOTA_EXCEEDED" and "instances (1 of 1" in err.value.message
        client.instances.terminate(first["id"])
        second = client.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"])
        client.instances.terminate(second["id"])


def test_env_secrets_are_injected_at_launch_and_never_shown(sqlite_user: Client, containers_of) -> None:  # type: ignore[no-untyped-def]
    value = f"s3cr3t-{uuid.uuid4().hex}"
    sqlite_user.secrets.create("db-password", value)
    inst = sqlite_user.instances.launch(iname(), "cumulo/busybox", command=["sleep", "600"],
                                        env_secrets={"DB_PASSWORD": "db-password"})
    assert inst["env_secrets"] == {"DB_PASSWORD": "db-password"} and inst["status"] == "RUNNING"
    assert value not in json.dumps([inst, sqlite_user.instances.list()])
    (container,) = containers_of(**{"cumulo.resource": inst["id"]})
    assert value not in json.dumps(container.attrs)
    code, out = container.exec_run(["cat", "/run/secrets/DB_PASSWORD"])
    assert code == 0 and out.decode() == value
    assert "secret.accessed" in [e["action"] for e in sqlite_user.events(limit=20)]
    sqlite_user.instances.terminate(inst["id"])


@pytest.mark.parametrize("env_secrets, env, status", [
    ({"DB": "no-such-secret"}, {}, 404),
    ({"1BAD": "x"}, {}, 400),
    ({"DB": "x"}, {"DB": "plain"}, 400),
])
def test_bad_env_secrets_are_refused_and_nothing_is_created(sqlite_user: Client, env_secrets: dict, env: dict,
                                                            status: int) -> None:
    if status == 400 and "DB" in env:
        sqlite_user.secrets.create("x", "value")
    name = iname()
    with pytest.raises(ApiError) as err:
        sqlite_user.instances.launch(name, "cumulo/busybox", command=["sleep", "1"], env_secrets=env_secrets, env=env)
    assert err.value.status == status
    assert name not in [i["name"] for i in sqlite_user.instances.list()]


def test_concurrent_launches_cannot_overshoot_the_quota(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(compute_max_instances=2)
    client = register_and_login(live)
    codes = concurrent_statuses([
        lambda i=i: client.instances.launch(f"race-{i}-{uuid.uuid4().hex[:4]}", "cumulo/busybox",
                                            command=["sleep", "600"]) for i in range(4)])
    assert codes == [201, 201, 403, 403]
    for inst in client.instances.list():
        client.instances.terminate(inst["id"])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_launches_through_two_api_processes_cannot_overshoot_the_quota(  # type: ignore[no-untyped-def]
        backend: str, make_server, tmp_path, request) -> None:
    """Two servers on one database and one data dir stand for CUMULO_API_PROCESSES=2: the per-process
    lock cannot see the other process, the database lock can."""
    from cumulo.testing.server import test_settings

    url = request.getfixturevalue("new_pg_database") if backend == "postgresql" else None
    first = make_server(compute_max_instances=2, data_dir=str(tmp_path), database_url=url)
    second = LiveServer(test_settings(str(tmp_path), database_url=url, compute_max_instances=2), workers=False).start()
    try:
        key = register_and_login(first).api_key
        clients = [Client(first.url, api_key=key), Client(second.url, api_key=key)]

        codes = concurrent_statuses([
            lambda i=i: clients[i % 2].instances.launch(f"twin-{i}-{uuid.uuid4().hex[:4]}", "cumulo/busybox",
                                                        command=["sleep", "600"]) for i in range(6)])
        assert codes == [201, 201, 403, 403, 403, 403]
        assert len(clients[0].instances.list()) == 2
    finally:
        for inst in clients[0].instances.list():
            clients[0].instances.terminate(inst["id"])
        second.stop()
        first.stop()

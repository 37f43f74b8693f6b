"""Instances against the host and their neighbours (issue 10 points 3, 11 and 13): no capability a
tenant does not need (NET_RAW: ARP spoofing), while every catalogue image still starts; host ports
only from the operator's range and never a taken one; secrets never in `docker inspect`."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import psycopg
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.compute.conftest import HTTPD, eventually, host_port, http_body
from tests.services.network.dockerkit import IMAGE, container_of, exec_in
from tests.services.network.dockerkit import busybox as _busybox  # noqa: F401 - the fixture

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("_busybox")]
SLEEP = ["sleep", "3600"]
NET_RAW = 13


@pytest.fixture
def tenant(server_sqlite: LiveServer) -> Iterator[Client]:
    client = register_and_login(server_sqlite)
    yield client
    for inst in client.get("/instances"):
        client.delete(f"/instances/{inst['id']}")
    client.close()


def _name() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


def _launch(client: Client, **fields: Any) -> dict[str, Any]:
    return client.post("/instances", {"name": _name(), "image": IMAGE, "command": SLEEP, **fields})  # type: ignore[no-any-return]


def _status_line(instance_id: str, field: str) -> str:
    code, out = exec_in(instance_id, f"grep '^{field}:' /proc/1/status")
    assert code == 0, out
    return out.split(":", 1)[1].strip()


# --- capabilities ----------------------------------------------------------------------------------

def test_instances_lack_net_raw_and_cannot_gain_privileges(tenant: Client) -> None:
    """Before: Docker's default set, NET_RAW included (raw sockets: ARP spoofing of neighbours)."""
    inst = _launch(tenant)
    caps = int(_status_line(inst["id"], "CapEff"), 16)
    assert not caps & (1 << NET_RAW), f"CapEff {caps:#x} still has NET_RAW"
    assert _status_line(inst["id"], "NoNewPrivs") == "1"
    host_config = container_of(inst["id"]).attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"] and "NET_RAW" not in (host_config["CapAdd"] or [])


def _redis_pong(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def _postgres_answers(port: int, password: str) -> bool:
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname="postgres",
                             connect_timeout=3) as conn:
            return conn.execute("SELECT 41 + 1").fetchone() == (42,)
    except psycopg.OperationalError:
        return False


def test_catalogue_images_start_and_serve_with_the_reduced_capabilities(tenant: Client) -> None:
    secret = f"pg-{uuid.uuid4().hex[:12]}"
    tenant.post("/secrets", {"name": "db-root", "value": secret})
    nginx = tenant.post("/instances", {"name": _name(), "image": "cumulo/nginx", "ports": "0:80"})
    redis = tenant.post("/instances", {"name": _name(), "image": "cumulo/redis", "ports": "0:6379"})
    postgres = tenant.post("/instances", {"name": _name(), "image": "cumulo/postgres", "ports": "0:5432",
                                          "env_secrets": {"POSTGRES_PASSWORD": "db-root"}})
    mariadb = tenant.post("/instances", {"name": _name(), "image": "cumulo/mariadb", "memory_mb": 768,
                                         "env_secrets": {"MARIADB_ROOT_PASSWORD": "db-root"}})
    for inst in (nginx, redis, postgres, mariadb):
        assert inst["status"] == "RUNNING", inst
    assert "nginx" in eventually(lambda: http_body(host_port(nginx, 80)), timeout=60).lower()
    assert eventually(lambda: _redis_pong(host_port(redis, 6379)), timeout=60)
    # the password reached initdb through the environment the wrapper exports (not the container config)
    assert eventually(lambda: _postgres_answers(host_port(postgres, 5432), secret), timeout=120)
    assert not _postgres_answers(host_port(postgres, 5432), "wrong-password")
    query = ('mariadb -h 127.0.0.1 -uroot -p"$(cat /run/secrets/MARIADB_ROOT_PASSWORD)" -N -e "SELECT 6*7" '
             "2>&1")
    assert eventually(lambda: exec_in(mariadb["id"], query)[1].strip() == "42", timeout=120)
    for inst in (nginx, redis, postgres, mariadb):
        assert tenant.get(f"/instances/{inst['id']}")["status"] == "RUNNING"
        assert secret not in json.dumps(container_of(inst["id"]).attrs)


# --- secrets ---------------------------------------------------------------------------------------

def test_password_and_injected_secrets_are_files_never_in_docker_inspect(tenant: Client) -> None:
    """Before: both were environment variables of the container, shown by `docker inspect`."""
    value, password = f"v-{uuid.uuid4().hex}", f"pw-{uuid.uuid4().hex}"
    tenant.post("/secrets", {"name": "api-token", "value": value})
    inst = _launch(tenant, password=password, env_secrets={"API_TOKEN": "api-token"}, env={"PLAIN": "1"})
    assert inst["status"] == "RUNNING", inst
    attrs = docker.from_env().api.inspect_container(container_of(inst["id"]).id)
    dumped = json.dumps(attrs)
    assert value not in dumped and password not in dumped
    assert "PLAIN=1" in attrs["Config"]["Env"]
    assert exec_in(inst["id"], "cat /run/secrets/API_TOKEN") == (0, value)
    assert exec_in(inst["id"], "cat /run/secrets/CUMULO_PASSWORD") == (0, password)
    # the main process has them in its environment (images that read variables keep working)
    code, environ = exec_in(inst["id"], "tr '\\0' '\\n' < /proc/$(pidof sleep)/environ")
    assert code == 0 and f"API_TOKEN={value}" in environ.splitlines()
    # read-only, on a tmpfs (never written to the engine's disk)
    code, mounts = exec_in(inst["id"], "grep ' /run/secrets ' /proc/mounts")
    assert code == 0 and mounts.split()[2] == "tmpfs" and mounts.split()[3].startswith("ro"), mounts
    assert exec_in(inst["id"], "echo x > /run/secrets/API_TOKEN")[0] != 0
    # a start rewrites the files from the current values (a tmpfs: a host reboot empties it)
    tenant.post(f"/instances/{inst['id']}/stop")
    tenant.put("/secrets/api-token", {"value": value + "-rotated"})
    assert tenant.post(f"/instances/{inst['id']}/start")["status"] == "RUNNING"
    assert exec_in(inst["id"], "cat /run/secrets/API_TOKEN") == (0, value + "-rotated")


# --- host ports ------------------------------------------------------------------------------------

def _listening_port(server: LiveServer) -> tuple[socket.socket, int]:
    """A loopback listener on a port of the range (another process holding it)."""
    low, high = (int(p) for p in server.settings.host_port_range.split("-"))
    for port in range(high, low, -1):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sock.listen()
        return sock, port
    raise AssertionError("no free port in the range")


def _refused(call: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        call()
    return err.value


def test_host_ports_come_only_from_the_operator_range(server_sqlite: LiveServer, tenant: Client) -> None:
    """Before: any host port (80, 0.0.0.0) was published, and 0 took one of Docker's own choice."""
    low, high = (int(p) for p in server_sqlite.settings.host_port_range.split("-"))
    for ports in ("80:80", "1:80", f"{low - 1}:80", f"{high + 1}:80", f"{low}:80,443:443"):
        err = _refused(lambda ports=ports: _launch(tenant, ports=ports))
        assert err.status == 400 and "CUMULO_HOST_PORT_RANGE" in err.message, (ports, err)
    assert tenant.get("/instances") == []
    web = tenant.post("/instances", {"name": _name(), "image": IMAGE, "ports": "0:80", "command": HTTPD})
    port = host_port(web)
    assert low <= port <= high
    assert "cumulo/busybox" in eventually(lambda: http_body(port))
    bindings = container_of(web["id"]).attrs["HostConfig"]["PortBindings"]["80/tcp"]
    assert bindings == [{"HostIp": server_sqlite.settings.compute_publish_host, "HostPort": str(port)}]


def test_a_taken_host_port_is_409_port_in_use_and_nothing_is_created(server_sqlite: LiveServer,
                                                                     tenant: Client) -> None:
    """Before: 201 with status ERROR, and the instance stayed."""
    holder, port = _listening_port(server_sqlite)
    try:
        err = _refused(lambda: _launch(tenant, ports=f"{port}:80"))
        assert (err.status, err.code) == (409, "PORT_IN_USE") and str(port) in err.message
    finally:
        holder.close()
    assert tenant.get("/instances") == []
    first = _launch(tenant, ports=f"{port}:80")  # free now
    assert first["status"] == "RUNNING" and host_port(first) == port
    with register_and_login(server_sqlite) as other:  # another user, same port: taken by an instance
        err = _refused(lambda: _launch(other, ports=f"{port}:8080"))
        assert (err.status, err.code) == (409, "PORT_IN_USE")
        assert other.get("/instances") == []
        tenant.delete(f"/instances/{first['id']}")  # given back with the instance
        second = _launch(other, ports=f"{port}:80")
        assert second["status"] == "RUNNING" and host_port(second) == port
        other.delete(f"/instances/{second['id']}")


def test_secret_files_refuse_a_root_open_to_others(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The host side of /run/secrets: 0700 directories of our own, files rewritten whole; a root
    another user could enter (or a symlink planted in its place) is refused, never used."""
    import os

    from cumulo.core.errors import Unavailable
    from cumulo.drivers.compute import secretfiles

    base = tmp_path / "secrets"
    base.mkdir(mode=0o700)
    folder = secretfiles.write(base / "inst", "c1", {"TOKEN": "a\n", "OLD": "b"})
    assert (folder / "TOKEN").read_text() == "a\n" and oct(os.stat(folder / "TOKEN").st_mode & 0o777) == "0o444"
    assert oct(os.stat(base / "inst").st_mode & 0o777) == "0o700"
    secretfiles.write(base / "inst", "c1", {"TOKEN": "c"})
    assert sorted(os.listdir(folder)) == ["TOKEN"] and (folder / "TOKEN").read_text() == "c"
    os.chmod(base / "inst", 0o755)
    with pytest.raises(Unavailable):
        secretfiles.write(base / "inst", "c1", {"TOKEN": "d"})
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    os.symlink(tmp_path / "elsewhere", base / "planted")
    with pytest.raises(Unavailable):
        secretfiles.write(base / "planted", "c1", {"TOKEN": "d"})
    secretfiles.remove(base / "inst", "c1")
    assert not folder.exists()


def test_secret_files_of_vanished_containers_are_pruned(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    from cumulo.drivers.compute import secretfiles

    base = tmp_path / "secrets"
    base.mkdir(mode=0o700)
    for name in ("alive", "gone", "just-written"):
        secretfiles.write(base / "inst", name, {"X": "1"})
    old = os.stat(base / "inst" / "gone").st_mtime - 3600
    for name in ("alive", "gone"):
        os.utime(base / "inst" / name, (old, old))
    secretfiles.prune(base / "inst", keep={"alive"})
    assert sorted(os.listdir(base / "inst")) == ["alive", "just-written"]

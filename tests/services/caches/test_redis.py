"""A managed Redis cache on a real container: never unauthenticated (a client without the
password is refused), maxmemory and eviction from the request, data kept across a reboot, a
killed container and a Cumulo restart (AOF on its volume), flush, stats from INFO; another user
gets 404 everywhere; bad input is 400 and creates nothing; the password never shows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import uuid
from typing import Any

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from tests.conftest import register_and_login
from tests.services.databases.conftest import Stack

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("caches-redis")]


def resp(*args: str) -> bytes:
    return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)


def reply(reader: Any) -> Any:
    """One RESP reply: a status (``+OK``), an error (``-ERR ...``) or an integer (``:3``) as its line,
    a bulk string as its text (``$-1`` when null), an array as a list of replies."""
    line = reader.readline().decode().rstrip("\r\n")
    if line.startswith("$") and line != "$-1":
        return reader.read(int(line[1:]) + 2)[:-2].decode()
    if line.startswith("*") and line != "*-1":
        return [reply(reader) for _ in range(int(line[1:]))]
    return line


def call(cache: dict[str, Any], *commands: tuple[str, ...]) -> list[Any]:
    """Send RESP commands on one connection; each reply (``reply``)."""
    ep = cache["public_endpoint"]
    with socket.create_connection((ep["host"], ep["port"]), timeout=5) as sock:
        reader = sock.makefile("rb")
        out = []
        for command in commands:
            sock.sendall(resp(*command))
            out.append(reply(reader))
        return out


def authed(cache: dict[str, Any], password: str, *commands: tuple[str, ...]) -> list[Any]:
    first, *rest = call(cache, ("AUTH", cache["username"], password), *commands)
    assert first == "+OK", first
    return rest


@pytest.fixture(scope="module")
def cache(stack: Stack) -> dict[str, Any]:
    c = stack.client.caches.create("sessions", memory_mb=32, eviction_policy="allkeys-lfu", public=True)
    stack.passwords.append(c["password"])
    return c


def test_a_client_without_the_password_is_refused(stack: Stack, cache: dict[str, Any]) -> None:
    assert cache["status"] == "available" and cache["persistence"] == "aof" and cache["endpoint"]["port"] == 6379
    assert call(cache, ("PING",))[0].startswith("-NOAUTH")
    assert call(cache, ("AUTH", "default", ""), ("GET", "k"))[1].startswith("-NOAUTH")
    assert call(cache, ("AUTH", cache["username"], "wrong"))[0].startswith("-WRONGPASS")
    got = authed(cache, cache["password"], ("SET", "greeting", "hello"), ("GET", "greeting"),
                 ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "GET", "appendonly"),
                 ("CONFIG", "GET", "appendfsync"), ("ACL", "WHOAMI"), ("ACL", "USERS"))
    assert got[:2] == ["+OK", "hello"]
    assert got[2:6] == [["maxmemory", str(32 * 1024 * 1024)], ["maxmemory-policy", "allkeys-lfu"],
                        ["appendonly", "yes"], ["appendfsync", "everysec"]]  # memory_mb, the policy, aof everysec
    assert got[6] == cache["username"] and sorted(got[7]) == sorted(["cumulo-admin", "default", cache["username"]])
    listed = authed(cache, cache["password"], ("ACL", "LIST"))[0]  # one ACL user per credential, and Cumulo's
    [default] = [u for u in listed if u.startswith("user default ")]
    [user] = [u for u in listed if u.startswith(f"user {cache['username']} ")]
    assert default.startswith("user default off ") and "nopass" not in default
    digest = hashlib.sha256(cache["password"].encode()).hexdigest()
    assert user.startswith(f"user {cache['username']} on #{digest} ") and cache["password"] not in user
    assert stack.client.secrets.value(cache["credentials_secret"]) == cache["password"]


def _answer(cache: dict[str, Any], password: str) -> str | None:
    try:
        got = authed(cache, password, ("GET", "greeting"))[0]
    except (OSError, AssertionError):
        return None
    return None if got.startswith("-LOADING") else got  # a restarted Redis reads its AOF first


def test_data_survives_a_reboot_a_killed_container_and_a_cumulo_restart(stack: Stack, cache: dict[str, Any]) -> None:
    stack.client.caches.reboot(cache["id"])
    assert _answer(cache, cache["password"]) == "hello"
    stack.container(cache["id"]).kill()
    assert eventually(lambda: _answer(cache, cache["password"]), 120, what="healed cache") == "hello"
    stack.live.stop()
    stack.container(cache["id"]).remove(force=True)  # gone while Cumulo is down: made again from its volume
    stack.restart()
    assert eventually(lambda: _answer(cache, cache["password"]), 120, what="cache after restart") == "hello"


def _metered_after_a_write(stack: Stack, cache_id: str) -> Any:
    """A later write to the cache's row (its ``updated_at`` moves), then the billing meter's view of it."""
    from cumulo.services.caches import hooks
    from cumulo.services.caches.models import Cache

    async def go() -> Any:
        async with stack.live.platform.db.session() as session:
            row = await session.get(Cache, cache_id)
            assert row is not None
            row.error = "a later write"
            await session.commit()
            row.error = None
            await session.commit()
            return next(u for u in await hooks.usage(session) if u.resource_id == cache_id)
    return stack.live.call(go())


def test_stop_and_start_keep_the_keys(stack: Stack, cache: dict[str, Any], tmp_path: Any) -> None:
    """Stopped: the server is down (not billed, kept down by the reconciler), its keys on the volume;
    started again: the same keys. A ``none`` cache too (a snapshot at the stop, through the CLI)."""
    from typer.testing import CliRunner

    from cumulo.cli.main import app

    before = dt.datetime.now(dt.UTC)
    stopped = stack.client.caches.stop(cache["id"])
    after = dt.datetime.now(dt.UTC)
    assert stopped["status"] == "stopped" and stopped["endpoint"] is None
    assert stack.container(cache["id"]).status == "exited" and _answer(cache, cache["password"]) is None
    assert stack.client.caches.stop(cache["name"])["status"] == "stopped"  # again: nothing to do
    with pytest.raises(ApiError) as err:
        stack.client.caches.flush(cache["id"])
    assert err.value.status == 409
    with pytest.raises(ApiError) as err:  # stopped, it has no container on the VPC's network: still placed there
        stack.client.network.delete_vpc(cache["vpc_id"])
    assert err.value.status == 409 and "cache sessions" in err.value.message, err.value
    stopped_at = _metered_after_a_write(stack, cache["id"])
    assert not stopped_at.active and before <= stopped_at.since <= after  # the stop's moment, not the write's
    started = stack.client.caches.start(cache["id"])
    assert started["status"] == "available" and _answer(cache, cache["password"]) == "hello"
    assert started["vpc_id"] == cache["vpc_id"]
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": stack.live.url, "CUMULO_API_KEY": stack.client.api_key or ""}
    volatile = stack.client.caches.create("volatile", memory_mb=16, persistence="none", public=True)
    stack.passwords.append(volatile["password"])
    try:
        authed(volatile, volatile["password"], ("SET", "greeting", "kept"))
        out = CliRunner().invoke(app, ["cache", "stop", "volatile", "--json"], env=env)
        assert out.exit_code == 0 and json.loads(out.stdout)["status"] == "stopped", out.output
        out = CliRunner().invoke(app, ["cache", "start", "volatile", "--json"], env=env)
        assert out.exit_code == 0 and json.loads(out.stdout)["status"] == "available", out.output
        assert _answer(volatile, volatile["password"]) == "kept"
        stack.client.caches.reboot("volatile")  # the stop's snapshot is gone: a restart keeps nothing
        assert authed(volatile, volatile["password"], ("GET", "greeting")) == ["$-1"]
    finally:
        stack.client.caches.delete("volatile")


def test_stats_and_flush(stack: Stack, cache: dict[str, Any]) -> None:
    authed(cache, cache["password"], ("SET", "a", "1"), ("GET", "a"), ("GET", "missing"))
    stats = stack.client.caches.stats(cache["id"])
    assert stats["keys"] == 2 and stats["hits"] >= 1 and stats["misses"] >= 1
    assert stats["maxmemory"] == 32 * 1024 * 1024 and stats["connected_clients"] >= 1
    stack.client.caches.flush(cache["id"])
    assert stack.client.caches.stats(cache["id"])["keys"] == 0


@pytest.mark.parametrize("body", [{"name": "x"}, {"name": "Bad", "memory_mb": 32}, {"name": "x", "memory_mb": 8},
                                  {"name": "x", "memory_mb": 32, "persistence": "always"},
                                  {"name": "x", "memory_mb": 32, "eviction_policy": "random"},
                                  {"name": "x", "memory_mb": 32, "version": "6.2"},
                                  {"name": "x", "memory_mb": 32, "username": "default"}])
def test_bad_input_is_400_and_creates_nothing(stack: Stack, cache: dict[str, Any], body: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as err:
        stack.client.post("/caches", body)
    assert err.value.status == 400
    assert [c["name"] for c in stack.client.caches.list()] == ["sessions"]


def test_another_user_gets_404_everywhere(stack: Stack, cache: dict[str, Any]) -> None:
    intruder: Client = register_and_login(stack.live)
    try:
        c = intruder.caches
        for attempt in (lambda: c.get(cache["id"]), lambda: c.get(cache["name"]), lambda: c.flush(cache["id"]),
                        lambda: c.stats(cache["id"]), lambda: c.reboot(cache["id"]), lambda: c.stop(cache["id"]),
                        lambda: c.start(cache["id"]), lambda: c.metrics(cache["id"]),
                        lambda: c.rotate_password(cache["id"]), lambda: c.delete(cache["id"])):
            with pytest.raises(ApiError) as err:
                attempt()
            assert err.value.status == 404
        assert c.list() == []
    finally:
        intruder.close()
    assert stack.client.caches.get(cache["id"])["status"] == "available"


def test_rotation_replaces_the_password(stack: Stack, cache: dict[str, Any]) -> None:
    rotated = stack.client.caches.rotate_password(cache["id"])
    stack.passwords.append(rotated["password"])
    assert call(cache, ("AUTH", cache["username"], cache["password"]))[0].startswith("-WRONGPASS")
    assert authed(cache, rotated["password"], ("PING",)) == ["+PONG"]
    assert stack.client.secrets.value(cache["credentials_secret"]) == rotated["password"]
    stack.client.caches.reboot(cache["id"])  # the ACL file on the volume keeps it
    assert authed(cache, rotated["password"], ("PING",)) == ["+PONG"]
    cache["password"] = rotated["password"]


def test_the_password_never_shows(stack: Stack, cache: dict[str, Any]) -> None:
    answers = json.dumps([stack.client.caches.list(), stack.client.caches.get(cache["id"]),
                          stack.client.events(limit=500)])
    attrs = json.dumps(stack.container(cache["id"]).attrs)
    for password in stack.passwords:
        assert password not in answers and password not in attrs
        assert password not in "\n".join(stack.log.lines)
    assert "password" not in stack.client.caches.get(cache["id"])


def test_quota_and_cli(stack: Stack, cache: dict[str, Any], tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from cumulo.cli.main import app

    stack.live.platform.settings.quota_caches = 1
    try:
        with pytest.raises(ApiError) as err:
            stack.client.caches.create("second", memory_mb=16)
        assert err.value.status == 403 and err.value.code == "QUOTA_EXCEEDED"
    finally:
        stack.live.platform.settings.quota_caches = 5
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": stack.live.url, "CUMULO_API_KEY": stack.client.api_key or ""}
    listed = CliRunner().invoke(app, ["cache", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [c["name"] for c in json.loads(listed.stdout)] == ["sessions"]
    stats = CliRunner().invoke(app, ["cache", "stats", "sessions", "--json"], env=env)
    assert stats.exit_code == 0 and "used_memory" in json.loads(stats.stdout)


def test_rdb_persistence_and_eviction_at_maxmemory(stack: Stack) -> None:
    """``persistence: rdb`` is snapshots (no AOF), kept across a reboot; past ``maxmemory`` the
    eviction policy removes keys, and ``stats`` counts the evictions from INFO."""
    rdb = stack.client.caches.create("snapshots", memory_mb=16, persistence="rdb", eviction_policy="allkeys-lru",
                                     public=True)
    stack.passwords.append(rdb["password"])
    try:
        assert rdb["persistence"] == "rdb" and rdb["eviction_policy"] == "allkeys-lru"
        got = authed(rdb, rdb["password"], ("CONFIG", "GET", "appendonly"), ("CONFIG", "GET", "save"),
                     ("SET", "kept", "across a reboot"))
        assert got[0] == ["appendonly", "no"] and got[1][1] != "" and got[2] == "+OK"
        stack.client.caches.reboot(rdb["id"])  # Redis snapshots at its shutdown
        assert eventually(lambda: _answer_key(rdb, "kept"), 60, what="rdb cache after reboot") == "across a reboot"

        value = "v" * 1024  # 24 MiB of values into 16 MiB
        ep = rdb["public_endpoint"]
        with socket.create_connection((ep["host"], ep["port"]), timeout=30) as sock:
            reader = sock.makefile("rb")
            sock.sendall(resp("AUTH", rdb["username"], rdb["password"]))
            assert reply(reader) == "+OK"
            for start in range(0, 24 * 1024, 1024):
                sock.sendall(b"".join(resp("SET", f"k{i}", value) for i in range(start, start + 1024)))
                answers = [reply(reader) for _ in range(1024)]
                assert answers == ["+OK"] * 1024, {a for a in answers if a != "+OK"}
        stats = stack.client.caches.stats(rdb["id"])
        assert stats["evictions"] > 0 and stats["keys"] < 24 * 1024
        assert stats["maxmemory"] == 16 * 1024 * 1024 and stats["used_memory"] > 0
    finally:
        stack.client.caches.delete(rdb["id"])


def _answer_key(cache: dict[str, Any], key: str) -> str | None:
    try:
        got = authed(cache, cache["password"], ("GET", key))[0]
    except (OSError, AssertionError):
        return None
    return None if isinstance(got, str) and got.startswith("-LOADING") else got


def test_cli_create_show_connect_flush_delete_with_json(stack: Stack, tmp_path: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cumulo.cli import caches as cache_cli
    from cumulo.cli.main import app

    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": stack.live.url, "CUMULO_API_KEY": stack.client.api_key or ""}
    runner = CliRunner()
    made = runner.invoke(app, ["cache", "create", "clicache", "--memory", "16", "--eviction-policy", "volatile-ttl",
                               "--persistence", "none", "--public", "--json"], env=env)
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    stack.passwords.append(created["password"])
    try:
        assert created["status"] == "available" and created["eviction_policy"] == "volatile-ttl"
        assert created["persistence"] == "none"
        assert authed(created, created["password"], ("SET", "a", "1"), ("CONFIG", "GET", "appendonly")) == [
            "+OK", ["appendonly", "no"]]
        shown = runner.invoke(app, ["cache", "show", "clicache", "--json"], env=env)
        assert shown.exit_code == 0 and json.loads(shown.stdout)["id"] == created["id"]
        assert created["password"] not in shown.stdout

        ran: list[tuple[list[str], dict[str, str]]] = []
        monkeypatch.setattr(cache_cli.shutil, "which", lambda name: f"/usr/bin/{name}")
        monkeypatch.setattr(cache_cli.subprocess, "call", lambda argv, env: ran.append((argv, env)) or 0)
        connected = runner.invoke(app, ["cache", "connect", "clicache"], env=env)
        assert connected.exit_code == 0, connected.output
        [(argv, client_env)] = ran
        ep = created["public_endpoint"]
        assert argv[0] == "redis-cli" and str(ep["port"]) in argv and created["username"] in argv
        assert created["password"] not in " ".join(argv) and created["password"] not in connected.output
        assert client_env["REDISCLI_AUTH"] == created["password"]

        flushed = runner.invoke(app, ["cache", "flush", "clicache", "--yes", "--json"], env=env)
        assert flushed.exit_code == 0 and json.loads(flushed.stdout)["id"] == created["id"], flushed.output
        assert authed(created, created["password"], ("DBSIZE",)) == [":0"]
    finally:
        gone = runner.invoke(app, ["cache", "delete", "clicache", "--yes", "--json"], env=env)
    assert gone.exit_code == 0 and json.loads(gone.stdout) == {"deleted": "clicache"}, gone.output
    assert runner.invoke(app, ["cache", "show", "clicache", "--json"], env=env).exit_code != 0
    assert stack.docker.containers.list(all=True, filters={"name": f"cumulo-cache-{created['id']}"}) == []


def test_a_cache_in_a_vpc_of_the_user_keeps_it_until_deleted(stack: Stack) -> None:
    """``vpc_id``: the cache's endpoint is an address of that VPC; the VPC cannot be deleted while the
    cache is placed in it (running or stopped); once the cache is gone it can."""
    import ipaddress

    net = stack.client.network
    vpc = net.create_vpc(f"cachenet-{uuid.uuid4().hex[:6]}")
    placed = stack.client.caches.create("in-vpc", memory_mb=16, vpc_id=vpc["id"])
    stack.passwords.append(placed["password"])
    try:
        assert placed["vpc_id"] == vpc["id"] and placed["public_endpoint"] is None
        assert ipaddress.ip_address(placed["endpoint"]["host"]) in ipaddress.ip_network(vpc["cidr_block"])
        networks = stack.container(placed["id"]).attrs["NetworkSettings"]["Networks"]
        assert list(networks) == [vpc["network_name"]]  # its network only (no default bridge)
        for status in ("available", "stopped"):
            if status == "stopped":
                stack.client.caches.stop(placed["id"])
            with pytest.raises(ApiError) as err:
                net.delete_vpc(vpc["id"])
            assert err.value.status == 409 and "cache in-vpc" in err.value.message, (status, err.value)
    finally:
        stack.client.caches.delete(placed["id"])
    net.delete_vpc(vpc["id"])
    assert vpc["id"] not in [v["id"] for v in net.vpcs()]

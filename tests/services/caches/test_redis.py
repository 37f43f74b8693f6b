"""A managed Redis cache on a real container: never unauthenticated (a client without the
password is refused), maxmemory and eviction from the request, data kept across a reboot, a
killed container and a Cumulo restart (AOF on its volume), flush, stats from INFO; another user
gets 404 everywhere; bad input is 400 and creates nothing; the password never shows."""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from tests.conftest import register_and_login
from tests.services.databases.conftest import Stack

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("caches-redis")]


def resp(*args: str) -> bytes:
    return f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)


def call(cache: dict[str, Any], *commands: tuple[str, ...]) -> list[str]:
    """Send RESP commands on one connection; the first line of each reply."""
    ep = cache["public_endpoint"]
    with socket.create_connection((ep["host"], ep["port"]), timeout=5) as sock:
        reader = sock.makefile("rb")
        out = []
        for command in commands:
            sock.sendall(resp(*command))
            line = reader.readline().decode().rstrip("\r\n")
            if line.startswith("$") and line != "$-1":
                line = reader.readline().decode().rstrip("\r\n")
            out.append(line)
        return out


def authed(cache: dict[str, Any], password: str, *commands: tuple[str, ...]) -> list[str]:
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
                 ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "maxmemory-policy"), ("CONFIG", "GET", "appendfsync"))
    assert got[:2] == ["+OK", "hello"]
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
    stopped_at = _metered_after_a_write(stack, cache["id"])
    assert not stopped_at.active and before <= stopped_at.since <= after  # the stop's moment, not the write's
    started = stack.client.caches.start(cache["id"])
    assert started["status"] == "available" and _answer(cache, cache["password"]) == "hello"
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
                        lambda: c.start(cache["id"]),
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

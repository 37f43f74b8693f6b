"""What the tenant's Redis user may do on a real cache: everything on its own data (GET/SET,
SCAN/KEYS, FLUSHDB/FLUSHALL, INFO, MULTI/EXEC, pub/sub, Lua), nothing that reconfigures, stops or
replicates the server (each answers NOPERM); Cumulo manages the cache with its own ACL user, whose
password never shows; a cache made before that user existed is upgraded by the reconciler."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from cumulo.platform import Platform
from cumulo.testing import eventually
from tests.services.caches.test_redis import authed, call, reply, resp
from tests.services.databases.conftest import Stack

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("caches-redis-acl")]

FORBIDDEN = [("ACL", "SETUSER", "default", "on", "nopass"), ("ACL", "SETUSER", "app", "+@all"),
             ("ACL", "DELUSER", "cumulo-admin"), ("ACL", "SAVE"), ("ACL", "LOAD"),
             ("CONFIG", "SET", "dir", "/tmp"), ("CONFIG", "SET", "dbfilename", "x.so"),
             ("CONFIG", "SET", "maxmemory", "0"), ("CONFIG", "REWRITE"), ("CONFIG", "RESETSTAT"),
             ("SHUTDOWN", "NOSAVE"), ("REPLICAOF", "192.0.2.1", "6379"), ("SLAVEOF", "192.0.2.1", "6379"),
             ("FAILOVER",), ("MIGRATE", "192.0.2.1", "6379", "k", "0", "100"), ("MONITOR",), ("SYNC",),
             ("PSYNC", "?", "-1"), ("BGSAVE",), ("SAVE",), ("BGREWRITEAOF",), ("CLIENT", "KILL", "ID", "1"),
             ("CLIENT", "PAUSE", "1000"), ("CLUSTER", "RESET")]
DISABLED = [("DEBUG", "SLEEP", "0"), ("MODULE", "LOAD", "/tmp/x.so")]  # off server-wide, and not the tenant's


@pytest.fixture(scope="module")
def cache(stack: Stack) -> dict[str, Any]:
    c = stack.client.caches.create("guarded", memory_mb=16, public=True)
    stack.passwords.append(c["password"])
    return c


def _platform(stack: Stack) -> Platform:
    assert stack.live.platform is not None
    return stack.live.platform


def _row(stack: Stack, cache_id: str) -> Any:
    from cumulo.services.caches.models import Cache

    async def go() -> Any:
        async with _platform(stack).db.session() as session:
            return await session.get(Cache, cache_id)
    return stack.live.call(go())


def _admin(stack: Stack, cache_id: str) -> str | None:
    from cumulo.services.caches import acl

    return acl.admin_password(_platform(stack), _row(stack, cache_id))


def _refused(cache: dict[str, Any], password: str) -> None:
    answers = authed(cache, password, *FORBIDDEN)
    assert all(a.startswith("-NOPERM") for a in answers), list(zip(FORBIDDEN, answers, strict=True))
    for command in DISABLED:
        assert authed(cache, password, command)[0].startswith("-ERR")
        why = authed(cache, password, ("ACL", "DRYRUN", cache["username"], *command))[0]
        assert f"no permissions to run the '{command[0].lower()}|{command[1].lower()}' command" in why or \
            f"no permissions to run the '{command[0].lower()}' command" in why, why


def test_the_tenant_cannot_reconfigure_stop_or_replicate_the_server(stack: Stack, cache: dict[str, Any]) -> None:
    _refused(cache, cache["password"])
    got = authed(cache, cache["password"], ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "dir"),
                 ("ACL", "GETUSER", "default"), ("ROLE",))
    assert got[0] == ["maxmemory", str(16 * 1024 * 1024)] and got[1] == ["dir", "/data"]  # nothing changed
    flags = got[2][got[2].index("flags") + 1]
    assert "off" in flags and "nopass" not in flags and got[3][0] == "master"
    assert call(cache, ("PING",))[0].startswith("-NOAUTH")  # no unauthenticated client either


def test_the_tenant_keeps_every_command_of_its_own_data(stack: Stack, cache: dict[str, Any]) -> None:
    pw = cache["password"]
    got = authed(cache, pw, ("SELECT", "3"), ("SET", "k1", "v1"), ("SET", "k2", "v2"), ("GET", "k1"), ("KEYS", "k*"),
                 ("SCAN", "0", "MATCH", "k*"), ("MULTI",), ("INCR", "n"), ("INCR", "n"), ("EXEC",),
                 ("EVAL", "return redis.call('GET', KEYS[1])", "1", "k2"), ("INFO", "keyspace"),
                 ("CLIENT", "SETNAME", "worker"), ("CLIENT", "GETNAME"), ("ACL", "WHOAMI"), ("DBSIZE",),
                 ("FLUSHDB",), ("DBSIZE",), ("SET", "k3", "v3"), ("FLUSHALL",), ("DBSIZE",))
    assert got[:4] == ["+OK", "+OK", "+OK", "v1"] and sorted(got[4]) == ["k1", "k2"] and sorted(got[5][1]) == ["k1", "k2"]
    assert got[6:10] == ["+OK", "+QUEUED", "+QUEUED", [":1", ":2"]] and got[10] == "v2"
    assert "db3:keys=3" in got[11] and got[12:16] == ["+OK", "worker", cache["username"], ":3"]
    assert got[16:] == ["+OK", ":0", "+OK", "+OK", ":0"]

    ep = cache["public_endpoint"]  # pub/sub: a subscriber gets what another connection publishes
    with socket.create_connection((ep["host"], ep["port"]), timeout=5) as sub:
        reader = sub.makefile("rb")
        sub.sendall(resp("AUTH", cache["username"], pw) + resp("SUBSCRIBE", "news"))
        assert reply(reader) == "+OK" and reply(reader) == ["subscribe", "news", ":1"]
        assert authed(cache, pw, ("PUBLISH", "news", "hello")) == [":1"]
        assert reply(reader) == ["message", "news", "hello"]


def test_cumulo_manages_with_its_own_user_whose_password_never_shows(stack: Stack, cache: dict[str, Any]) -> None:
    admin = _admin(stack, cache["id"])
    assert admin and admin != cache["password"]
    assert call(cache, ("AUTH", "cumulo-admin", admin), ("ACL", "WHOAMI"))[1] == "cumulo-admin"
    authed(cache, cache["password"], ("SET", "a", "1"), ("GET", "a"), ("GET", "missing"))
    stats = stack.client.caches.stats(cache["id"])  # INFO as Cumulo's user
    assert stats["keys"] == 1 and stats["hits"] >= 1 and stats["misses"] >= 1
    stack.client.caches.flush(cache["id"])
    assert stack.client.caches.stats(cache["id"])["keys"] == 0

    rotated = stack.client.caches.rotate_password(cache["id"])  # ACL LOAD as Cumulo's user
    stack.passwords.append(rotated["password"])
    assert call(cache, ("AUTH", cache["username"], cache["password"]))[0].startswith("-WRONGPASS")
    cache["password"] = rotated["password"]
    assert authed(cache, cache["password"], ("SET", "b", "2")) == ["+OK"]
    _refused(cache, cache["password"])  # the same rules with the new password
    assert stack.client.caches.stats(cache["id"])["keys"] == 1 and _admin(stack, cache["id"]) == admin

    names = [s["name"] for s in stack.client.secrets.list()]
    assert cache["credentials_secret"] in names and not any("admin" in n for n in names)
    answers = json.dumps([stack.client.caches.list(), stack.client.caches.get(cache["id"]),
                          stack.client.secrets.list(), stack.client.events(limit=500)])
    attrs = json.dumps(stack.container(cache["id"]).attrs)
    assert admin not in answers and admin not in attrs and admin not in "\n".join(stack.log.lines)


@pytest.mark.parametrize("left", ["without a management user", "its file rewritten, not loaded"])
def test_a_cache_made_before_the_management_user_is_upgraded(stack: Stack, cache: dict[str, Any], left: str) -> None:
    """A cache as the older code left it (its tenant with every command, no management user, none in
    its row), or as a crash left its upgrade (the new file written, the server not told): the tenant's
    password still works, the API's stats too, and the reconciler's pass gives it the management user
    and the tenant's restricted rules; its keys stay."""
    from cumulo.runtime import reconcile
    from cumulo.services.caches import acl, service
    from cumulo.services.caches.models import Cache

    platform, username = _platform(stack), cache["username"]
    authed(cache, cache["password"], ("SET", "kept", "across the upgrade"))

    async def as_older_code_left_it() -> None:
        async with reconcile.holding(platform, service.RECONCILE, cache["id"], 60), platform.db.session() as session:
            row = await session.get(Cache, cache["id"])
            assert row is not None
            admin = acl.admin_password(platform, row)
            assert admin
            acl.write(platform, row, f"user default off\nuser {username} on #{acl.digest(cache['password'])} "
                                     "~* &* +@all\n")
            assert await acl.load(platform, row, (acl.ADMIN, admin))
            _, out = await acl.cli(platform, row, username, cache["password"], "ACL", "USERS")
            assert sorted(out.split()) == sorted(["default", username]), out  # Cumulo's user is gone
            if left == "without a management user":
                row.admin_sealed = None
                await session.commit()
            else:
                acl.write(platform, row, acl.text(username, acl.digest(cache["password"]), acl.digest(admin)))
            platform.extras.get(acl.VERIFIED, set()).discard(row.id)
    stack.live.call(as_older_code_left_it())
    assert stack.client.caches.stats(cache["id"])["keys"] >= 1  # as the tenant, or already as Cumulo's user

    def upgraded() -> bool:
        why = authed(cache, cache["password"], ("ACL", "DRYRUN", username, "CONFIG", "SET", "maxmemory", "0"))[0]
        return "no permissions" in why
    eventually(upgraded, 120, what="the reconciler's upgrade of the cache's ACL", ignore=(OSError,))
    assert _admin(stack, cache["id"])
    _refused(cache, cache["password"])
    assert authed(cache, cache["password"], ("GET", "kept")) == ["across the upgrade"]
    assert stack.client.caches.stats(cache["id"])["keys"] >= 1
    stack.client.caches.flush(cache["id"])
    assert authed(cache, cache["password"], ("DBSIZE",)) == [":0"]
    rotated = stack.client.caches.rotate_password(cache["id"])
    stack.passwords.append(rotated["password"])
    assert authed(cache, rotated["password"], ("PING",)) == ["+PONG"]
    assert call(cache, ("AUTH", username, cache["password"]))[0].startswith("-WRONGPASS")
    cache["password"] = rotated["password"]

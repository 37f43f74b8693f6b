"""Keys and accounts (issue 10 points 14 and 15): logout revokes the key server-side, keys expire,
scoped keys stay in their scope, the rate limit is per user, a lockout is per (account, address),
and registration does not reveal which emails exist."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from cumulo.client import ApiError, Client
from cumulo.core.ids import sha256_hex
from cumulo.services.identity.models import ApiKey
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email, register_and_login
from tests.services.identity.conftest import mails_to


def status(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiError) as err:
        call()
    return err.value.status, err.value.code


def as_key(live: LiveServer, key: str) -> Client:
    return Client(live.url, api_key=key)


# --- logout and expiry -------------------------------------------------------------------------

def test_logout_revokes_the_calling_key_only(server: LiveServer, user: Client) -> None:
    other = user.identity.create_key("script")["key"]
    login_key = user.api_key
    assert user.post("/auth/logout", raw=True).status_code == 204
    with as_key(server, login_key) as old:
        assert status(old.identity.me) == (401, "UNAUTHORIZED")
    with as_key(server, other) as script:
        assert script.identity.me()["email"]
        assert [k["name"] for k in script.identity.keys()] == ["script"]


def _expire(server: LiveServer, raw_key: str) -> None:
    async def run() -> None:
        async with server.platform.db.session() as s:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await s.execute(update(ApiKey).where(ApiKey.key_hash == sha256_hex(raw_key)).values(expires_at=past))
            await s.commit()
    server.call(run())


def test_a_key_with_an_expiry_is_refused_after_it(server: LiveServer, user: Client) -> None:
    made = user.post("/auth/keys", {"name": "short", "expires_in_seconds": 3600})
    expires = dt.datetime.fromisoformat(made["expires_at"])
    assert dt.timedelta(minutes=59) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    assert [k["expires_at"] for k in user.identity.keys() if k["id"] == made["id"]] == [made["expires_at"]]
    _expire(server, made["key"])  # as if the hour had passed (the key was never used: nothing cached)
    with as_key(server, made["key"]) as late:
        assert status(late.identity.me) == (401, "KEY_EXPIRED")


def test_login_keys_expire_by_default_and_on_request(server: LiveServer) -> None:
    email = new_email()
    with Client(server.url) as c:
        c.identity.register(email, PASSWORD, "Exp")
        c.identity.login(email, PASSWORD)
        (key,) = c.identity.keys()
        left = dt.datetime.fromisoformat(key["expires_at"]) - dt.datetime.now(dt.UTC)
        assert key["login"] and dt.timedelta(days=29) < left <= dt.timedelta(days=30)  # CUMULO_LOGIN_KEY_TTL_SECONDS
        out = c.post("/auth/login", {"email": email, "password": PASSWORD, "expires_in_seconds": 600})
        c.api_key = out["api_key"]
        newest = max(c.identity.keys(), key=lambda k: k["created_at"])
        assert dt.datetime.fromisoformat(newest["expires_at"]) - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=10)
        assert status(lambda: c.post("/auth/login", {"email": email, "password": PASSWORD,
                                                    "expires_in_seconds": 1})) == (400, "INVALID_INPUT")


def test_keys_made_without_expiry_never_expire(user: Client) -> None:
    assert user.identity.create_key("forever")["expires_at"] is None


# --- scoped keys ---------------------------------------------------------------------------------

def _scoped(user: Client, *scopes: str) -> dict[str, Any]:
    return user.post("/auth/keys", {"name": "scoped", "scopes": list(scopes)})  # type: ignore[no-any-return]


def test_read_only_key_reads_but_never_writes(server: LiveServer, user: Client) -> None:
    user.queues.create("visible")
    made = _scoped(user, "read-only")
    assert made["scopes"] == ["read-only"]
    with as_key(server, made["key"]) as ro:
        assert [q["name"] for q in ro.queues.list()] == ["visible"]
        assert ro.identity.me()["id"] == user.identity.me()["id"]
        assert status(lambda: ro.queues.create("nope")) == (403, "FORBIDDEN")
        assert status(lambda: ro.queues.delete("visible")) == (403, "FORBIDDEN")
        assert status(lambda: ro.secrets.create("s", "v")) == (403, "FORBIDDEN")
    assert [q["name"] for q in user.queues.list()] == ["visible"]


def test_service_scoped_key_reaches_only_its_services(server: LiveServer, user: Client) -> None:
    made = _scoped(user, "queues", "storage")
    assert made["scopes"] == ["queues", "storage"]
    with as_key(server, made["key"]) as scoped:
        scoped.queues.create("mine")
        scoped.storage.buckets()
        assert status(scoped.secrets.list) == (403, "FORBIDDEN")
        assert status(lambda: scoped.get("/instances")) == (403, "FORBIDDEN")
        assert status(lambda: scoped.cron.list()) == (403, "FORBIDDEN")
        assert scoped.get("/quotas")  # always allowed


def test_a_scoped_key_cannot_mint_rotate_or_revoke_keys(server: LiveServer, user: Client) -> None:
    plain = user.identity.create_key("plain")
    made = _scoped(user, "queues")
    with as_key(server, made["key"]) as scoped:
        assert status(lambda: scoped.identity.create_key("wider")) == (403, "FORBIDDEN")
        assert status(lambda: scoped.post("/auth/keys", {"name": "x", "scopes": ["queues"]})) == (403, "FORBIDDEN")
        assert status(lambda: scoped.identity.rotate_key(made["id"])) == (403, "FORBIDDEN")
        assert status(lambda: scoped.identity.revoke_key(plain["id"])) == (403, "FORBIDDEN")
        assert {k["name"] for k in scoped.identity.keys()} >= {"plain", "scoped"}  # listing is fine
        assert scoped.post("/auth/logout", raw=True).status_code == 204
        assert status(scoped.identity.me) == (401, "UNAUTHORIZED")
    assert "scoped" not in {k["name"] for k in user.identity.keys()}


@pytest.mark.parametrize("scopes", [["admin"], ["identity"], ["read-only", "nope"], ["x" * 40]])
def test_unknown_scopes_are_400(user: Client, scopes: list[str]) -> None:
    assert status(lambda: user.post("/auth/keys", {"name": "bad", "scopes": scopes})) == (400, "INVALID_INPUT")


def test_rotation_keeps_scopes_and_expiry(user: Client) -> None:
    made = user.post("/auth/keys", {"name": "r", "scopes": ["read-only"], "expires_in_seconds": 3600})
    rotated = user.identity.rotate_key(made["id"])
    assert rotated["scopes"] == ["read-only"] and rotated["expires_at"] == made["expires_at"]


# --- rate limit per user ---------------------------------------------------------------------

def test_rate_limit_is_shared_by_all_keys_of_a_user(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(rate_limit="6/minute")
    with register_and_login(live) as c, register_and_login(live) as stranger:
        second = c.identity.create_key("second")["key"]  # 1 request
        with as_key(live, second) as c2:
            for client in (c, c2, c, c2, c):  # 6 in all
                client.identity.me()
            assert status(c2.identity.me) == (429, "RATE_LIMITED")  # a new key buys nothing
            assert status(c.identity.me) == (429, "RATE_LIMITED")
        assert stranger.identity.me()  # another user has a bucket of their own


# --- lockout per (account, address) and registration ---------------------------------------------

def _login_from(live: LiveServer, address: str, email: str, password: str) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address)) as http:
        return http.post(f"{live.url}/auth/login", json={"email": email, "password": password})


def test_an_attacker_locks_only_their_own_address_out(server: LiveServer) -> None:
    email = new_email()
    Client(server.url).identity.register(email, PASSWORD, "Owner")
    for _ in range(5):  # CUMULO_LOCKOUT_THRESHOLD from 127.0.0.2
        assert _login_from(server, "127.0.0.2", email, "Wrong-pass1").status_code == 401
    locked = _login_from(server, "127.0.0.2", email, PASSWORD)
    assert locked.status_code == 401 and locked.json()["error"]["code"] == "ACCOUNT_LOCKED"
    owner = _login_from(server, "127.0.0.1", email, PASSWORD)  # the owner's own address
    assert owner.status_code == 200 and owner.json()["api_key"].startswith("cml_")
    assert _login_from(server, "127.0.0.3", email, PASSWORD).status_code == 200


def test_registering_a_taken_address_mails_its_owner(server: LiveServer) -> None:
    email = new_email()
    fresh = httpx.post(f"{server.url}/auth/register", json={"email": email, "password": PASSWORD, "name": "A"})
    taken = httpx.post(f"{server.url}/auth/register", json={"email": email, "password": PASSWORD, "name": "B"})
    assert (fresh.status_code, fresh.json()["message"]) == (taken.status_code, taken.json()["message"])
    subjects = sorted(m["Subject"] for m in mails_to(server, email))  # the outbox does not keep sending order
    assert subjects == ["Someone tried to register with your address", "Verify your Cumulo account"]


def test_expired_keys_do_not_hold_the_key_quota(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(quota_api_keys=2)
    with register_and_login(live) as c:  # key 1: the login key
        short = c.post("/auth/keys", {"name": "short", "expires_in_seconds": 60})  # key 2
        assert status(lambda: c.identity.create_key("third")) == (403, "QUOTA_EXCEEDED")
        _expire(live, short["key"])
        assert c.identity.create_key("third")["name"] == "third"  # the expired key made room
        assert sorted(k["name"] for k in c.identity.keys() if not k["login"]) == ["third"]

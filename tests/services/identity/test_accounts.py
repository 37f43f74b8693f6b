"""Registration, login, lockout, /auth/me, roles."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import update

from cumulo.client import ApiError, Client
from cumulo.services.identity.models import LoginFailure
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email, register_and_login


def test_register_returns_seed_shape(server: LiveServer) -> None:
    r = httpx.post(f"{server.url}/auth/register", json={"email": new_email(), "password": PASSWORD, "name": "Ann"})
    assert r.status_code == 201
    body = r.json()
    assert body["message"].startswith("registration received") and len(body["user_id"]) == 36
    assert set(body) == {"message", "user_id"}


def test_duplicate_email_answers_like_a_new_one_and_changes_nothing(server: LiveServer) -> None:
    """Registration does not reveal which emails exist (issue 10 point 15): the second attempt (any
    case) gets the same 201 and message, the account keeps its name and password."""
    email = new_email()
    first = httpx.post(f"{server.url}/auth/register", json={"email": email, "password": PASSWORD, "name": "A"})
    again = httpx.post(f"{server.url}/auth/register", json={"email": email.upper(), "password": "0ther-passw0rd",
                                                             "name": "B"})
    assert first.status_code == again.status_code == 201
    assert first.json()["message"] == again.json()["message"] and set(again.json()) == {"message", "user_id"}
    assert _login(server, email, "0ther-passw0rd").status_code == 401
    ok = _login(server, email, PASSWORD)
    assert ok.status_code == 200 and ok.json()["user"]["name"] == "A"


@pytest.mark.parametrize("payload, field", [
    ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, "email"),
    ({"email": "a@example.com", "password": "short1!", "name": "A"}, "password"),
    ({"email": "a@example.com", "password": "alllowercase", "name": "A"}, "password"),
    ({"email": "a@example.com", "password": "1234567890", "name": "A"}, "password"),
    ({"email": "a@example.com", "password": PASSWORD, "name": "   "}, "name"),
    ({"email": "a@example.com", "password": PASSWORD}, "name"),
    ({"email": "a@example.com", "password": 12345678, "name": "A"}, "password"),
])
def test_register_rejects_bad_input_with_400(server: LiveServer, payload: dict, field: str) -> None:
    r = httpx.post(f"{server.url}/auth/register", json=payload)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "INVALID_INPUT" and field in err["message"]
    assert PASSWORD not in r.text


def test_login_returns_user_and_working_key(server: LiveServer) -> None:
    email = new_email()
    c = Client(server.url)
    c.identity.register(email, PASSWORD, "Bob")
    out = c.identity.login(email.upper(), PASSWORD)
    assert out["user"]["email"] == email and out["user"]["name"] == "Bob"
    assert out["api_key"].startswith("cml_")
    assert c.identity.me()["email"] == email
    bearer = httpx.get(f"{server.url}/auth/me", headers={"Authorization": f"Bearer {out['api_key']}"})
    assert bearer.status_code == 200 and bearer.json()["email"] == email


def test_wrong_password_and_unknown_email_look_the_same(server: LiveServer) -> None:
    email = new_email()
    Client(server.url).identity.register(email, PASSWORD, "C")
    wrong = httpx.post(f"{server.url}/auth/login", json={"email": email, "password": "Wrong-pass1"})
    unknown = httpx.post(f"{server.url}/auth/login", json={"email": new_email(), "password": "Wrong-pass1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"] == "invalid email or password"


def _login(server: LiveServer, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/auth/login", json={"email": email, "password": password})


def test_five_failures_lock_the_account_for_fifteen_minutes(server: LiveServer) -> None:
    email = new_email()
    Client(server.url).identity.register(email, PASSWORD, "D")
    for _ in range(5):
        assert _login(server, email, "Wrong-pass1").status_code == 401
    locked = _login(server, email, PASSWORD)
    assert locked.status_code == 401 and locked.json()["error"]["code"] == "ACCOUNT_LOCKED"
    assert "15 min" in locked.json()["error"]["message"]

    async def expire_lock() -> None:
        async with server.platform.db.session() as s:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await s.execute(update(LoginFailure).where(LoginFailure.email == email).values(locked_until=past))
            await s.commit()

    server.call(expire_lock())
    assert _login(server, email, PASSWORD).status_code == 200


def test_unknown_email_locks_too_so_lockout_reveals_nothing(server: LiveServer) -> None:
    email = new_email()
    for _ in range(5):
        _login(server, email, "Wrong-pass1")
    assert _login(server, email, "Wrong-pass1").json()["error"]["code"] == "ACCOUNT_LOCKED"


def test_successful_login_resets_the_failure_count(server: LiveServer) -> None:
    email = new_email()
    Client(server.url).identity.register(email, PASSWORD, "E")
    for _ in range(4):
        _login(server, email, "Wrong-pass1")
    assert _login(server, email, PASSWORD).status_code == 200
    for _ in range(4):
        _login(server, email, "Wrong-pass1")
    assert _login(server, email, PASSWORD).status_code == 200


def test_first_user_is_admin_and_admin_endpoints_refuse_users(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server()
    admin = register_and_login(live)
    user = register_and_login(live)
    assert admin.identity.me()["role"] == "admin"
    assert user.identity.me()["role"] == "user"
    with pytest.raises(ApiError) as err:
        user.get("/admin/users")
    assert err.value.status == 403
    listed = admin.get("/admin/users")
    assert {u["role"] for u in listed} == {"admin", "user"}
    uid = user.identity.me()["id"]
    assert admin.put(f"/admin/users/{uid}/role", {"role": "admin"})["role"] == "admin"
    assert len(user.get("/admin/users")) == 2
    with pytest.raises(ApiError) as bad:
        admin.put(f"/admin/users/{uid}/role", {"role": "root"})
    assert bad.value.status == 400
    with pytest.raises(ApiError) as missing:
        admin.put("/admin/users/not-a-user/role", {"role": "user"})
    assert missing.value.status == 404


def test_me_requires_a_key(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    r = httpx.get(f"{server.url}/auth/me", headers={"X-API-Key": "cml_nope"})
    assert r.status_code == 401
    r = httpx.get(f"{server.url}/auth/me", headers={"X-API-Key": "\u00e9\u00e9\u00e9".encode("utf-8")})
    assert r.status_code == 401

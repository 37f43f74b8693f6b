"""API keys: shown once, stored hashed, listed without values, revoked and rotated at once."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from cumulo.client import ApiError, Client
from cumulo.services.identity.models import ApiKey
from cumulo.testing.server import LiveServer


def _status(server: LiveServer, key: str) -> int:
    return httpx.get(f"{server.url}/auth/keys", headers={"X-API-Key": key}).status_code


def test_create_key_shows_it_once_and_lists_without_value(server: LiveServer, user: Client) -> None:
    created = user.identity.create_key("Production Key")
    assert created["key"].startswith("cml_") and created["name"] == "Production Key"
    assert created["prefix"] == created["key"][:12]
    assert {"id", "user_id", "name", "key", "created_at", "last_used", "prefix"} <= set(created)
    listed = user.identity.keys()
    assert [k["name"] for k in listed].count("Production Key") == 1
    for k in listed:
        assert "key" not in k and "key_hash" not in k
        assert set(k) == {"id", "user_id", "name", "prefix", "created_at", "last_used", "expires_at", "scopes", "login"}
    assert _status(server, created["key"]) == 200


def test_keys_are_stored_as_hashes(server: LiveServer, user: Client) -> None:
    created = user.identity.create_key("hashed")

    async def stored() -> list[str]:
        async with server.platform.db.session() as s:
            return list((await s.scalars(select(ApiKey.key_hash).where(ApiKey.id == created["id"]))).all())

    (value,) = server.call(stored())
    assert created["key"] not in value and len(value) == 64


def test_last_used_is_kept_current(server: LiveServer, user: Client) -> None:
    created = user.identity.create_key("fresh")
    assert next(k for k in user.identity.keys() if k["id"] == created["id"])["last_used"] is None
    assert _status(server, created["key"]) == 200
    used = next(k for k in user.identity.keys() if k["id"] == created["id"])
    assert used["last_used"] is not None and used["last_used"] >= created["created_at"]


def test_revoked_key_is_refused_at_once(server: LiveServer, user: Client) -> None:
    created = user.identity.create_key("to revoke")
    assert _status(server, created["key"]) == 200  # now cached by the server
    user.identity.revoke_key(created["id"])
    assert _status(server, created["key"]) == 401
    assert created["id"] not in [k["id"] for k in user.identity.keys()]


@pytest.mark.parametrize("verb", ["rotate", "regenerate"])
def test_rotate_replaces_the_key(server: LiveServer, user: Client, verb: str) -> None:
    created = user.identity.create_key("rotating")
    assert _status(server, created["key"]) == 200
    new = user.post(f"/auth/keys/{created['id']}/{verb}")
    assert new["key"] != created["key"] and new["id"] != created["id"] and new["name"] == "rotating"
    assert _status(server, created["key"]) == 401
    assert _status(server, new["key"]) == 200
    ids = [k["id"] for k in user.identity.keys()]
    assert new["id"] in ids and created["id"] not in ids


def test_other_users_key_is_404_everywhere(user: Client, other_user: Client) -> None:
    theirs = other_user.identity.create_key("theirs")
    for call in (lambda: user.identity.revoke_key(theirs["id"]), lambda: user.identity.rotate_key(theirs["id"])):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404
    assert theirs["id"] in [k["id"] for k in other_user.identity.keys()]
    assert theirs["id"] not in [k["id"] for k in user.identity.keys()]


@pytest.mark.parametrize("key_id", ["nope", "00000000-0000-0000-0000-000000000000", "%27%20OR%201%3D1", "x" * 300])
def test_unknown_key_ids_are_404(user: Client, key_id: str) -> None:
    with pytest.raises(ApiError) as err:
        user.delete(f"/auth/keys/{key_id}")
    assert err.value.status == 404


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 101}, {"name": 5}, [], "text"])
def test_bad_key_names_are_400(user: Client, body: object) -> None:
    with pytest.raises(ApiError) as err:
        user.post("/auth/keys", body)
    assert err.value.status == 400


def test_deleting_the_key_in_use_logs_you_out(server: LiveServer, user: Client) -> None:
    me_key = next(k for k in user.identity.keys())
    user.identity.revoke_key(me_key["id"])
    with pytest.raises(ApiError) as err:
        user.identity.me()
    assert err.value.status == 401

"""The audit trail: every state change is an event of its owner, newest first, without secrets."""

from __future__ import annotations

import httpx
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD


def test_events_are_recorded_newest_first_and_private(server: LiveServer, user: Client, other_user: Client) -> None:
    created = user.identity.create_key("audited")
    user.identity.revoke_key(created["id"])
    events = user.events(limit=10)
    actions = [e["action"] for e in events]
    assert actions[:2] == ["apikey.revoked", "apikey.created"]
    assert "user.registered" in actions and "user.login" in actions
    assert events[0]["resource_id"] == created["id"]
    assert all(created["id"] != e["resource_id"] for e in other_user.events(limit=100))
    assert len(user.events(limit=1)) == 1


def test_events_never_contain_secrets(server: LiveServer, user: Client) -> None:
    created = user.identity.create_key("secret-check")
    rotated = user.identity.rotate_key(created["id"])
    dump = httpx.get(f"{server.url}/events?limit=1000", headers={"X-API-Key": user.api_key}).text
    assert created["key"] not in dump and rotated["key"] not in dump and PASSWORD not in dump
    assert user.api_key not in dump


@pytest.mark.parametrize("limit", [0, -1, 1001, "abc"])
def test_bad_limit_is_400(user: Client, limit: object) -> None:
    with pytest.raises(ApiError) as err:
        user.get("/events", params={"limit": limit})
    assert err.value.status == 400

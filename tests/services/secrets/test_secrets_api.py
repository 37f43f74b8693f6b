"""Secrets Manager through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from cumulo.client import ApiError, Client


def sname() -> str:
    return f"app/db-password-{uuid.uuid4().hex[:8]}"


def status_of(fn, *args, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    return err.value.status


def test_create_list_read_by_id_and_name_versions(user: Client) -> None:
    name = sname()
    created = user.secrets.create(name, "hunter2", "db password")
    assert created["version"] == 1 and created["status"] == "ACTIVE"
    assert "value" not in created and "hunter2" not in str(created)
    listed = [s for s in user.secrets.list() if s["name"] == name]
    assert len(listed) == 1 and "value" not in listed[0] and "hunter2" not in str(listed)
    assert user.secrets.value(created["id"]) == "hunter2"
    assert user.secrets.value(name) == "hunter2"

    updated = user.secrets.put(name, "correct horse", description="rotated")
    assert updated["version"] == 2 and updated["description"] == "rotated"
    latest = user.secrets.get(name)
    assert (latest["value"], latest["value_version"]) == ("correct horse", 2)
    assert user.secrets.value(name, version=1) == "hunter2"
    assert status_of(user.secrets.get, name, version=3) == 404
    assert user.secrets.get(name)["last_accessed_at"] is not None


def test_reads_are_audited_without_values(user: Client) -> None:
    name = sname()
    secret = user.secrets.create(name, "s3cr3t-value-xyz")
    user.secrets.get(name)
    events = user.events(limit=20)
    mine = [e for e in events if e["resource_id"] == secret["id"]]
    assert {"secret.created", "secret.accessed"} <= {e["action"] for e in mine}
    assert "s3cr3t-value-xyz" not in str(events)


def test_invalid_input_is_400_and_duplicates_409(user: Client) -> None:
    for bad in ["", "has space", "x" * 129, "../etc", "ünïcode"]:
        assert status_of(user.secrets.create, bad, "v") == 400, bad
    assert status_of(user.secrets.create, sname(), "") == 400
    assert status_of(user.secrets.create, sname(), "x" * 65537) == 400
    name = sname()
    user.secrets.create(name, "v")
    assert status_of(user.secrets.create, name, "w") == 409
    assert status_of(user.get, f"/secrets/{name}", params={"version": 0}) == 400
    assert status_of(user.get, f"/secrets/{name}", params={"version": "abc"}) == 400
    assert status_of(user.secrets.delete, name, recovery_window_days=3) == 400
    assert status_of(user.post, "/secrets", json=["not", "an", "object"]) == 400


def test_other_users_secret_is_404(user: Client, other_user: Client) -> None:
    secret = user.secrets.create(sname(), "mine")
    for ref in (secret["id"], secret["name"]):
        assert status_of(other_user.secrets.get, ref) == 404
        assert status_of(other_user.secrets.put, ref, "theirs") == 404
        assert status_of(other_user.secrets.delete, ref) == 404
        assert status_of(other_user.secrets.restore, ref) == 404
    assert secret["name"] not in [s["name"] for s in other_user.secrets.list()]
    # the same name is free for another user
    other_user.secrets.create(secret["name"], "theirs")
    assert user.secrets.value(secret["name"]) == "mine"
    assert status_of(user.secrets.get, str(uuid.uuid4())) == 404


def test_scheduled_deletion_restore_and_force(user: Client) -> None:
    name = sname()
    user.secrets.create(name, "v1")
    scheduled = user.secrets.delete(name, recovery_window_days=7)
    assert scheduled["status"] == "SCHEDULED_FOR_DELETION" and scheduled["deletion_date"]
    assert status_of(user.secrets.get, name) == 409
    assert status_of(user.secrets.put, name, "v2") == 409
    assert name not in [s["name"] for s in user.secrets.list()]
    assert name in [s["name"] for s in user.secrets.list(include_deleted=True)]
    assert status_of(user.secrets.create, name, "again") == 409
    restored = user.secrets.restore(name)
    assert restored["status"] == "ACTIVE" and user.secrets.value(name) == "v1"
    assert status_of(user.secrets.restore, name) == 409
    assert user.secrets.delete(name, force=True) is None
    assert status_of(user.secrets.get, name) == 404
    user.secrets.create(name, "fresh")
    assert user.secrets.value(name) == "fresh"

"""``GET /functions/{fn}/event-sources/{id}`` (documented beside list and delete)."""

from __future__ import annotations

import uuid

import pytest

from cumulo.client import ApiError, Client

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def test_get_one_event_source(sqlite_user: Client, other_user_sqlite: Client, py_zip: bytes) -> None:
    c = sqlite_user
    queue = c.queues.create(f"one-{uuid.uuid4().hex[:6]}")
    fn = c.functions.create(f"src-{uuid.uuid4().hex[:6]}", "python", py_zip, handler="main.records")
    source = c.functions.add_event_source(fn["name"], queue["name"], batch_size=3)
    got = c.functions.event_source(fn["name"], source["id"])
    assert got == source
    with pytest.raises(ApiError) as missing:
        c.functions.event_source(fn["name"], "es_missing")
    assert missing.value.status == 404
    with pytest.raises(ApiError) as foreign:
        other_user_sqlite.functions.event_source(fn["id"], source["id"])
    assert foreign.value.status == 404


@pytest.fixture
def other_user_sqlite(server_sqlite):  # type: ignore[no-untyped-def]
    from tests.conftest import register_and_login

    with register_and_login(server_sqlite) as client:
        yield client

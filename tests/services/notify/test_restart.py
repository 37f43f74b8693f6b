"""Queued messages and pending webhook deliveries survive a restart of the server."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator

import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer, free_port
from tests.conftest import register_and_login
from tests.services.notify.receiver import Receiver, eventually


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    yield request.getfixturevalue("new_pg_database")


def test_messages_and_pending_deliveries_survive_a_restart(
        make_server: Callable[..., LiveServer], tmp_path, database_url: str | None) -> None:  # type: ignore[no-untyped-def]
    data_dir = str(tmp_path / "data")
    first = make_server(data_dir=data_dir, database_url=database_url)
    hook_port = free_port()  # nothing listens here yet: every attempt fails
    with register_and_login(first) as c:
        key = c.api_key
        q = c.queues.create("durable")
        c.queues.send_batch(q["id"], ["one", "two", "three"])
        t = c.notify.create_topic("alerts")
        sub = c.notify.subscribe(t["id"], "webhook", f"http://127.0.0.1:{hook_port}/hook",
                                 delivery_policy={"retry_base_seconds": 0.2, "max_attempts": 50})
        secret = sub["signing_secret"]
        published = [c.notify.publish(t["id"], f"alert {i}")["message_id"] for i in range(3)]
        eventually(lambda: all(d["attempts"] >= 1 for d in c.notify.deliveries(sub["id"]))
                   and len(c.notify.deliveries(sub["id"])) == 3)
    first.stop()

    with Receiver(port=hook_port) as receiver:
        second = make_server(data_dir=data_dir, database_url=database_url)
        with Client(second.url, api_key=key) as c:
            got = receiver.wait_for(3)
            assert sorted(json.loads(r.body)["message_id"] for r in got[:3]) == sorted(published)
            for r in got:
                assert r.headers["X-Cumulo-Signature"] == "sha256=" + hmac.new(
                    secret.encode(), r.body, hashlib.sha256).hexdigest()
            eventually(lambda: all(d["status"] == "delivered" for d in c.notify.deliveries(sub["id"])))
            bodies = [m["body"] for m in c.queues.receive("durable", max_messages=10)]
            assert sorted(bodies) == ["one", "three", "two"]


def test_a_stop_gives_back_the_lease_of_deliveries_in_flight(
        make_server: Callable[..., LiveServer], tmp_path, database_url: str | None) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from sqlalchemy import create_engine, text

    from cumulo.db.engine import sync_url

    live = make_server(data_dir=str(tmp_path / "data"), database_url=database_url)
    with Receiver(delay=6.0) as slow, register_and_login(live) as c:  # answers long after the stop
        t = c.notify.create_topic("slow")
        sub = c.notify.subscribe(t["id"], "webhook", slow.url, delivery_policy={"timeout_seconds": 30})
        c.notify.publish(t["id"], "in flight")
        slow.wait_for(1)
        live.stop()
        engine = create_engine(sync_url(live.settings.resolved_database_url))
        with engine.connect() as conn:
            status, attempts, next_at = conn.execute(text(
                "SELECT status, attempts, next_attempt_at FROM notify_deliveries WHERE subscription_id = :s"),
                {"s": sub["id"]}).one()
        engine.dispose()
    if isinstance(next_at, str):  # SQLite hands back text
        next_at = dt.datetime.fromisoformat(next_at)
    next_at = next_at if next_at.tzinfo else next_at.replace(tzinfo=dt.UTC)
    assert status == "pending" and attempts == 0
    assert next_at <= dt.datetime.now(dt.UTC)  # due now, not at the end of a 75 s lease

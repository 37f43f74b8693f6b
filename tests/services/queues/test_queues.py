"""Queues through the HTTP API, on SQLite and PostgreSQL (the ``server`` fixture runs both)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from cumulo.client import ApiError, Client
from cumulo.services.queues.signals import signals
from tests.conftest import register_and_login


def qname() -> str:
    return f"q-{uuid.uuid4().hex[:10]}"


def test_create_defaults_get_by_id_or_name_list_update_delete(user: Client) -> None:
    name = qname()
    q = user.queues.create(name)
    assert (q["visibility_timeout"], q["retention_seconds"], q["max_message_size"]) == (30, 345600, 262144)
    assert q["delay_seconds"] == 0 and q["receive_wait_seconds"] == 0 and q["dead_letter"] is None
    assert user.queues.get(q["id"])["name"] == name
    assert user.queues.get(name)["id"] == q["id"]
    assert name in [x["name"] for x in user.queues.list()]
    updated = user.queues.update(name, visibility_timeout=5, delay_seconds=2)
    assert (updated["visibility_timeout"], updated["delay_seconds"]) == (5, 2)
    user.queues.delete(name)
    with pytest.raises(ApiError) as err:
        user.queues.get(q["id"])
    assert err.value.status == 404


def test_names_unique_per_user_and_other_users_queue_is_404(user: Client, other_user: Client) -> None:
    name = qname()
    q = user.queues.create(name)
    with pytest.raises(ApiError) as err:
        user.queues.create(name)
    assert err.value.status == 409
    other_user.queues.create(name)  # same name, other owner: fine
    for call in (lambda: other_user.queues.get(q["id"]), lambda: other_user.queues.send(q["id"], "x"),
                 lambda: other_user.queues.receive(q["id"]), lambda: other_user.queues.delete(q["id"]),
                 lambda: other_user.queues.purge(q["id"]), lambda: other_user.queues.stats(q["id"])):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404
    assert user.queues.get(q["id"])["id"] == q["id"]


@pytest.mark.parametrize("body", [
    {"name": "bad name!"}, {"name": ""}, {"name": "x" * 81}, {"name": "ok", "visibility_timeout": 43201},
    {"name": "ok", "retention_seconds": 59}, {"name": "ok", "max_message_size": 2 * 1024 * 1024},
    {"name": "ok", "delay_seconds": 901}, {"name": "ok", "receive_wait_seconds": 21},
    {"name": "ok", "dead_letter": {"queue_id": "nope", "max_receive_count": 3}},
    {"name": "ok", "dead_letter": {"queue_id": "x", "max_receive_count": 0}}, {"name": 5}, {"nom": "x"},
])
def test_invalid_create_is_400_and_creates_nothing(user: Client, body: dict) -> None:
    before = len(user.queues.list())
    with pytest.raises(ApiError) as err:
        user.post("/queues", body)
    assert err.value.status == 400, err.value.message
    assert len(user.queues.list()) == before


def test_send_receive_delete_and_message_fields(user: Client) -> None:
    q = user.queues.create(qname())
    sent = user.queues.send(q["name"], "hello", attributes={"kind": "greeting", "n": 3})
    got = user.queues.receive(q["id"], max_messages=10)
    assert len(got) == 1
    m = got[0]
    assert m["message_id"] == sent["message_id"] and m["body"] == "hello"
    assert m["attributes"] == {"kind": "greeting", "n": 3}
    assert m["received_count"] == 1 and m["first_received_at"] and m["receipt_handle"]
    assert user.queues.receive(q["id"]) == []  # invisible while in flight
    user.queues.delete_message(q["id"], m["receipt_handle"])
    assert user.queues.stats(q["id"])["total"] == 0
    with pytest.raises(ApiError) as err:
        user.queues.delete_message(q["id"], m["receipt_handle"])
    assert err.value.status == 404


def test_seed_count_parameter_and_batches_of_ten(user: Client) -> None:
    q = user.queues.create(qname())
    out = user.queues.send_batch(q["id"], [f"m{i}" for i in range(10)])
    assert len({m["message_id"] for m in out}) == 10
    with pytest.raises(ApiError) as err:
        user.queues.send_batch(q["id"], [f"m{i}" for i in range(11)])
    assert err.value.status == 400
    assert len(user.get(f"/queues/{q['id']}/messages", params={"count": 3})) == 3
    rest = user.queues.receive(q["id"], max_messages=10)
    assert len(rest) == 7
    res = user.queues.delete_batch(q["id"], [m["receipt_handle"] for m in rest] + ["bogus.handle"])
    assert len(res["deleted"]) == 7 and res["failed"][0]["code"] == "NOT_FOUND"
    with pytest.raises(ApiError) as err:
        user.queues.receive(q["id"], max_messages=11)
    assert err.value.status == 400


def test_visibility_timeout_redelivers_and_only_latest_handle_works(user: Client) -> None:
    q = user.queues.create(qname(), visibility_timeout=1)
    user.queues.send(q["id"], "job")
    first = user.queues.receive(q["id"])[0]
    second = user.queues.receive(q["id"], wait_seconds=5)[0]  # back after the timeout
    assert second["message_id"] == first["message_id"] and second["received_count"] == 2
    assert second["first_received_at"] == first["first_received_at"]
    for call in (lambda: user.queues.delete_message(q["id"], first["receipt_handle"]),
                 lambda: user.queues.change_visibility(q["id"], first["receipt_handle"], 0)):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404
    user.queues.change_visibility(q["id"], second["receipt_handle"], 0)
    third = user.queues.receive(q["id"])[0]
    assert third["received_count"] == 3
    user.queues.delete_message(q["id"], third["receipt_handle"])


def test_change_visibility_extends_the_timeout(user: Client) -> None:
    q = user.queues.create(qname(), visibility_timeout=1)
    user.queues.send(q["id"], "slow job")
    m = user.queues.receive(q["id"])[0]
    user.queues.change_visibility(q["id"], m["receipt_handle"], 600)
    assert user.queues.receive(q["id"], wait_seconds=2) == []
    assert user.queues.stats(q["id"])["in_flight"] == 1


def test_delay_seconds_and_stats(user: Client) -> None:
    q = user.queues.create(qname())
    user.queues.send(q["id"], "later", delay_seconds=1)
    user.queues.send(q["id"], "now")
    stats = user.queues.stats(q["id"])
    assert (stats["visible"], stats["delayed"], stats["in_flight"], stats["total"]) == (1, 1, 0, 2)
    assert stats["oldest_age_seconds"] >= 0
    assert [m["body"] for m in user.queues.receive(q["id"], max_messages=10)] == ["now"]
    late = user.queues.receive(q["id"], wait_seconds=5)
    assert [m["body"] for m in late] == ["later"]
    stats = user.queues.stats(q["id"])
    assert (stats["visible"], stats["in_flight"]) == (0, 2)


def test_message_size_limit(user: Client) -> None:
    q = user.queues.create(qname(), max_message_size=1024)
    with pytest.raises(ApiError) as err:
        user.queues.send(q["id"], "x" * 1025)
    assert err.value.status == 413 and "1024" in err.value.message
    with pytest.raises(ApiError) as err:
        user.queues.send_batch(q["id"], ["ok", "y" * 2000])
    assert err.value.status == 413
    assert user.queues.stats(q["id"])["total"] == 0  # nothing of the failed batch was stored
    with pytest.raises(ApiError) as err:
        user.queues.send(q["id"], "")
    assert err.value.status == 400


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_long_poll_answers_as_soon_as_a_message_arrives(backend: str, make_server, request) -> None:  # type: ignore[no-untyped-def]
    """The server re-reads the queue only every minute and the receive waits up to 20 s: only the
    wake-up of the send can answer it before the thread's 10 s join gives up."""
    url = request.getfixturevalue("new_pg_database") if backend == "postgresql" else None
    live = make_server(database_url=url, queue_poll_seconds=60)
    with register_and_login(live) as user:
        q = user.queues.create(qname())
        result: list = []
        receiver = threading.Thread(target=lambda: result.append(user_receive(live.url, user.api_key, q["id"])))
        receiver.start()
        live.call(_waiting(live, q["id"]))
        user.queues.send(q["id"], "wake up")
        receiver.join(timeout=10)
        assert not receiver.is_alive()
        assert [m["body"] for m in result[0]] == ["wake up"]


async def _waiting(live, queue_id: str) -> None:  # type: ignore[no-untyped-def]
    """Until a receiver waits on the queue (it found it empty)."""
    waker = signals(live.platform)
    while not waker.waiting(queue_id):
        await asyncio.sleep(0.02)


def user_receive(url: str, key: str | None, queue_id: str) -> list:
    with Client(url, api_key=key) as c:
        return c.queues.receive(queue_id, wait_seconds=20)


def test_dead_letter_after_max_receive_count_and_redrive(user: Client) -> None:
    dlq = user.queues.create(qname())
    q = user.queues.create(qname(), visibility_timeout=0,
                           dead_letter={"queue_id": dlq["name"], "max_receive_count": 2})
    assert q["dead_letter"] == {"queue_id": dlq["id"], "max_receive_count": 2}
    with pytest.raises(ApiError) as err:
        user.queues.delete(dlq["id"])
    assert err.value.status == 409
    sent = user.queues.send(q["id"], "poison")
    assert user.queues.receive(q["id"])[0]["received_count"] == 1
    assert user.queues.receive(q["id"])[0]["received_count"] == 2
    assert user.queues.receive(q["id"]) == []  # third receive moves it instead
    moved = user.queues.receive(dlq["id"])
    assert [m["message_id"] for m in moved] == [sent["message_id"]]
    user.queues.change_visibility(dlq["id"], moved[0]["receipt_handle"], 0)
    assert user.queues.redrive(dlq["id"]) == 1
    back = user.queues.receive(q["id"])
    assert back[0]["message_id"] == sent["message_id"] and back[0]["received_count"] == 1
    with pytest.raises(ApiError) as err:
        user.queues.update(q["id"], dead_letter={"queue_id": q["id"], "max_receive_count": 1})
    assert err.value.status == 400
    assert user.queues.update(q["id"], dead_letter=None)["dead_letter"] is None
    user.queues.delete(dlq["id"])


def test_purge(user: Client) -> None:
    q = user.queues.create(qname())
    user.queues.send_batch(q["id"], ["a", "b", "c"])
    assert user.queues.purge(q["id"]) == 3
    assert user.queues.receive(q["id"]) == []


def test_expired_messages_are_dropped_after_retention(user: Client, server) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from sqlalchemy import update

    from cumulo.services.queues import service
    from cumulo.services.queues.models import Message

    q = user.queues.create(qname(), retention_seconds=60)
    user.queues.send_batch(q["id"], ["old", "new"])

    async def age_one() -> int:
        async with server.platform.db.session() as s:
            await s.execute(update(Message).where(Message.queue_id == q["id"], Message.body == "old")
                            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
            await s.commit()
            return await service.drop_expired(s)

    assert server.call(age_one()) == 1
    assert [m["body"] for m in user.queues.receive(q["id"], max_messages=10)] == ["new"]


def test_many_concurrent_consumers_never_share_a_message(user: Client, server) -> None:  # type: ignore[no-untyped-def]
    q = user.queues.create(qname(), visibility_timeout=300)
    total = 200
    for i in range(0, total, 10):
        user.queues.send_batch(q["id"], [f"m{j}" for j in range(i, i + 10)])
    seen: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        with Client(server.url, api_key=user.api_key) as c:
            while True:
                got = c.queues.receive(q["id"], max_messages=3)
                if not got:
                    return
                with lock:
                    seen.extend(m["message_id"] for m in got)

    with ThreadPoolExecutor(12) as pool:
        for f in [pool.submit(consume) for _ in range(12)]:
            f.result()
    assert len(seen) == total and len(set(seen)) == total


def test_queue_changes_apply_to_the_next_send_and_receive(user: Client) -> None:
    """The hot path's queue rows are cached per process: every change through the API evicts them."""
    name = qname()
    q = user.queues.create(name)
    user.queues.send(name, "warm")  # the queue row is now cached under its name and id
    assert len(user.queues.receive(q["id"])) == 1
    user.queues.update(name, delay_seconds=900)
    user.queues.send(name, "delayed")
    assert user.queues.receive(q["id"]) == [] and user.queues.stats(q["id"])["delayed"] == 1
    user.queues.purge(q["id"])
    user.queues.delete(name)
    for call in (lambda: user.queues.send(name, "x"), lambda: user.queues.receive(name)):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404
    again = user.queues.create(name)  # same name, new queue: the name must not lead to the old one
    user.queues.send(name, "fresh")
    assert [m["body"] for m in user.queues.receive(again["id"])] == ["fresh"]


def test_delete_batch_scopes_handles_to_the_queue_and_reports_each(user: Client, other_user: Client) -> None:
    a, b = user.queues.create(qname()), user.queues.create(qname())
    user.queues.send_batch(a["id"], ["a1", "a2"])
    user.queues.send(b["id"], "b1")
    got_a = user.queues.receive(a["id"], max_messages=10)
    got_b = user.queues.receive(b["id"])
    handles = [m["receipt_handle"] for m in got_a]
    with pytest.raises(ApiError) as err:  # someone else's queue: 404, nothing deleted
        other_user.queues.delete_batch(a["id"], handles)
    assert err.value.status == 404
    res = user.queues.delete_batch(a["id"], [handles[0], got_b[0]["receipt_handle"], "no-dot", handles[1]])
    assert res["deleted"] == [handles[0], handles[1]]
    assert [(f["receipt_handle"], f["code"]) for f in res["failed"]] == [
        (got_b[0]["receipt_handle"], "NOT_FOUND"), ("no-dot", "INVALID_INPUT")]
    assert user.queues.stats(b["id"])["total"] == 1  # b's message was not deleted through a
    res = user.queues.delete_batch(a["id"], handles)  # already gone
    assert res["deleted"] == [] and len(res["failed"]) == 2

"""Long-poll wake-ups across processes (PostgreSQL): two servers on one database stand for two API
processes, or an API process and a worker."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cumulo.client import Client
from cumulo.services.queues.signals import signals
from cumulo.testing import server as testing
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login


@pytest.fixture
def twins(tmp_path: Path, new_pg_database: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    url = new_pg_database
    # The second one re-reads queues only every minute: only a wake-up can answer its receivers early.
    first = LiveServer(testing.test_settings(str(tmp_path), database_url=url)).start()
    second = LiveServer(testing.test_settings(str(tmp_path), database_url=url, queue_poll_seconds=60),
                        workers=False).start()
    try:
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_a_notify_in_one_process_wakes_receivers_in_another(twins: tuple[LiveServer, LiveServer]) -> None:
    first, second = twins
    queue_id = str(uuid.uuid4())

    async def arm() -> asyncio.Event:
        waker = signals(second.platform)
        event = waker.current(queue_id)
        await waker.listen()
        await second.platform.signals.listening  # LISTEN is in place before the other side publishes
        return event

    event = second.call(arm())

    async def publish() -> None:
        signals(first.platform).notify(queue_id)
        await asyncio.sleep(0)  # the batched pg_notify runs at the next loop turn

    first.call(publish())

    async def woken() -> bool:
        try:
            await asyncio.wait_for(event.wait(), timeout=30)
        except TimeoutError:
            return False
        return True

    assert second.call(woken(), timeout=40)


def test_a_long_poll_on_one_process_gets_a_message_sent_through_another(
        twins: tuple[LiveServer, LiveServer]) -> None:
    first, second = twins
    sender = register_and_login(first)
    queue = sender.queues.create(f"x-{uuid.uuid4().hex[:6]}")
    got: list[list] = []

    def receive() -> None:
        with Client(second.url, api_key=sender.api_key) as c:
            got.append(c.queues.receive(queue["id"], wait_seconds=20))

    receiver = threading.Thread(target=receive)
    receiver.start()
    second.call(_listening(second))
    sender.queues.send(queue["id"], "across")
    receiver.join(timeout=10)  # the receive waits up to 20 s and its server re-reads every 60 s
    assert not receiver.is_alive()
    assert [m["body"] for m in got[0]] == ["across"]


async def _listening(server: LiveServer) -> None:
    """Until the receiver on ``server`` has started listening (it does when it finds the queue empty)."""
    while server.platform.signals.listening is None:
        await asyncio.sleep(0.02)
    await server.platform.signals.listening

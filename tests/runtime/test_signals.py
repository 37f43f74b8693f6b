"""Signals: ``runner.wake`` and bus events reach another platform on the same PostgreSQL database
(two platforms stand for the API process and a worker: they share nothing but the database)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from cumulo.core.events import Event
from cumulo.platform import Platform


@pytest.fixture
def database_url(new_pg_database: str) -> str:  # PostgreSQL only: on SQLite signals stay in their process
    return new_pg_database


async def _listening(platform: Platform) -> None:
    await platform.signals.listen()
    assert platform.signals.listening is not None
    await platform.signals.listening


async def test_a_wake_in_one_process_runs_the_loop_in_another(platforms: Callable[[], Platform]) -> None:
    api, worker = platforms(), platforms()
    runs = asyncio.Queue[int]()

    async def tick() -> None:
        runs.put_nowait(1)

    worker.runner.every("thing.loop", 3600, tick)
    await worker.runner.start()
    await asyncio.wait_for(runs.get(), 30)  # the first pass, at start
    await _listening(worker)
    api.runner.wake("thing.loop")  # the API process has no such loop: the worker's runs
    await asyncio.wait_for(runs.get(), 30)


async def test_bus_events_reach_subscribers_in_another_process_once(platforms: Callable[[], Platform]) -> None:
    api, worker = platforms(), platforms()
    heard: dict[str, list[Event]] = {"api": [], "worker": []}
    arrived = asyncio.Event()

    def on_worker(event: Event) -> None:
        heard["worker"].append(event)
        arrived.set()

    api.bus.subscribe("instance.", heard["api"].append)
    worker.bus.subscribe("instance.", on_worker)
    await _listening(api)
    await _listening(worker)
    api.bus.publish(Event("instance.reconfigure", resource_id="i-1", user_id="u-1", data={"why": "attach"}))
    await asyncio.wait_for(arrived.wait(), 30)
    await asyncio.sleep(0.3)  # a second (echoed) delivery would have come by now
    assert heard["worker"] == [Event("instance.reconfigure", resource_id="i-1", user_id="u-1", data={"why": "attach"})]
    assert len(heard["api"]) == 1  # delivered where it was published, not heard back from the database

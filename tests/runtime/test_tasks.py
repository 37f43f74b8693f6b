"""The background runner: periodic loops, wake-ups, failures that do not kill a loop, clean stop."""

from __future__ import annotations

import asyncio

from cumulo.runtime.tasks import Runner


async def test_loop_runs_periodically_and_on_wake() -> None:
    runner = Runner()
    calls: list[int] = []
    woke = asyncio.Event()

    async def tick() -> None:
        calls.append(1)
        if len(calls) >= 2:
            woke.set()

    loop = runner.every("tick", 3600, tick)
    await runner.start()
    while not calls:
        await asyncio.sleep(0.01)
    loop.wake()  # an hour-long interval, yet it runs again at once
    await asyncio.wait_for(woke.wait(), 5)
    await runner.stop()
    assert len(calls) >= 2 and not runner.started


async def test_a_failing_pass_does_not_stop_the_loop() -> None:
    runner = Runner()
    attempts: list[int] = []
    done = asyncio.Event()

    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        done.set()

    runner.every("flaky", 0.01, flaky)
    await runner.start()
    await asyncio.wait_for(done.wait(), 5)
    await runner.stop()
    assert len(attempts) >= 2


async def test_stop_cancels_long_running_tasks() -> None:
    runner = Runner()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    runner.spawn("forever", forever)
    await runner.start()
    await asyncio.sleep(0)
    await runner.stop(timeout=0.1)
    assert cancelled.is_set()

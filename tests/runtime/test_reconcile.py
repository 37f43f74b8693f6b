"""The reconcile runtime: coalesced wakes, backoff, the sweep, and the per-object lease (two
platforms on one database stand for two worker processes; the cross-process run with real
processes is in ``test_processes.py``)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable

import pytest

from cumulo.core.errors import InvalidInput, Unavailable
from cumulo.db import locks
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.runtime.reconcile import TemporaryError


async def _until(check: Callable[[], object], timeout: float = 30.0) -> None:
    """Wait for background work (the timeout only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)


async def test_repeated_wakes_of_one_object_coalesce(platforms: Callable[[], Platform]) -> None:
    platform = platforms()
    release, entered = asyncio.Event(), asyncio.Event()
    calls: list[str] = []

    async def converge(key: str) -> None:
        calls.append(key)
        entered.set()
        await release.wait()

    reconcile.register(platform, "things", converge, interval=3600)
    await platform.runner.start()
    reconcile.wake(platform, "things", "a")
    await asyncio.wait_for(entered.wait(), 30)
    for _ in range(10):  # while "a" converges: it runs once more afterwards, not ten times
        reconcile.wake(platform, "things", "a")
    release.set()
    rec = reconcile.reconciler(platform, "things")
    await _until(lambda: rec.attempts == 2 and not rec._running and not rec._due)
    await asyncio.sleep(0.2)
    assert calls == ["a", "a"]


async def test_temporary_errors_back_off_and_are_retried_without_a_sweep(
        platforms: Callable[[], Platform], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile, "BACKOFF", 0.1)
    platform = platforms()
    attempts: list[float] = []

    async def converge(key: str) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise Unavailable("the engine is restarting")
        if len(attempts) < 4:
            raise TemporaryError("still restarting")

    reconcile.register(platform, "flaky", converge, interval=3600)  # the sweep never comes back
    await platform.runner.start()
    reconcile.wake(platform, "flaky", "x")
    rec = reconcile.reconciler(platform, "flaky")
    await _until(lambda: len(attempts) == 4 and "x" not in rec.states)
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Each retry waited at least its backoff (0.1, 0.2, 0.4 s): without backoff they come at once.
    assert [gap >= delay - 0.02 for gap, delay in zip(gaps, (0.1, 0.2, 0.4))] == [True, True, True]


async def test_other_errors_wait_for_a_sweep_after_their_backoff_and_a_wake_runs_at_once(
        platforms: Callable[[], Platform]) -> None:
    platform = platforms()
    attempts: list[str] = []

    async def converge(key: str) -> None:
        attempts.append(key)
        raise InvalidInput("the spec is wrong")

    async def keys() -> list[str]:
        return ["bad"]

    reconcile.register(platform, "broken", converge, keys=keys, interval=3600)
    await platform.runner.start()
    rec = reconcile.reconciler(platform, "broken")
    await _until(lambda: attempts == ["bad"] and "bad" in rec.states and not rec._running)
    for _ in range(3):
        await rec.sweep()  # sweeps within the backoff do not retry it
    await asyncio.sleep(0.2)
    assert attempts == ["bad"] and rec.states["bad"].last_error == "the spec is wrong"
    reconcile.wake(platform, "broken", "bad")  # a user acted: at once
    await _until(lambda: len(attempts) == 2)
    assert rec.states["bad"].failures == 2


async def test_two_workers_never_converge_one_object_at_once(platforms: Callable[[], Platform]) -> None:
    """Two platforms on one database; every wake reaches both (the same signal is sent to each)."""
    first, second = platforms(), platforms()
    inside: dict[str, int] = {}
    overlaps: list[str] = []
    done: list[tuple[str, int]] = []

    def converger(worker: int) -> reconcile.Converge:
        async def converge(key: str) -> None:
            inside[key] = inside.get(key, 0) + 1
            if inside[key] > 1:
                overlaps.append(key)
            await asyncio.sleep(0.05)
            inside[key] -= 1
            done.append((key, worker))
        return converge

    for i, platform in enumerate((first, second)):
        reconcile.register(platform, "shared", converger(i), interval=3600)
        await platform.runner.start()
    for _ in range(5):
        for key in ("k1", "k2", "k3"):
            reconcile.wake(first, "shared", key)
            reconcile.wake(second, "shared", key)  # on PostgreSQL each also reaches the other
        await asyncio.sleep(0.02)
    recs = [reconcile.reconciler(p, "shared") for p in (first, second)]
    await _until(lambda: len(done) >= 6 and all(not r._running and not r._due for r in recs))
    assert overlaps == []
    assert {w for _k, w in done} == {0, 1}  # both took part


async def test_a_lease_is_held_until_dropped_or_expired(platforms: Callable[[], Platform]) -> None:
    db = platforms().db
    assert await locks.take_lease(db, "thing", "one", 60)
    assert not await locks.take_lease(db, "thing", "two", 60)
    assert await locks.take_lease(db, "thing", "one", 60)  # renewed by its holder
    await locks.drop_lease(db, "thing", "two")  # not the holder: nothing happens
    assert not await locks.take_lease(db, "thing", "two", 60)
    await locks.drop_lease(db, "thing", "one")
    assert await locks.take_lease(db, "thing", "two", 0.01)
    await asyncio.sleep(0.05)
    assert await locks.take_lease(db, "thing", "three", 60)  # the holder went away: expired

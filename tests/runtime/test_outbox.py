"""The audit table as an outbox: consumers get every event once, in commit order, from their own
cursor; the cursor moves in the handler's transaction; a transaction that commits late is not
passed over (PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.platform import Platform
from cumulo.runtime import outbox
from cumulo.services.events import service as events
from cumulo.testing.polling import eventually_async


def _collector() -> tuple[list[str], outbox.Handler]:
    """(the actions seen, a handler that appends each entry's action to it)."""
    seen: list[str] = []

    async def handle(_session: AsyncSession, entry: outbox.Entry) -> None:
        seen.append(entry.action)
    return seen, handle


async def _record(platform: Platform, *actions: str) -> None:
    async with platform.db.session() as session:
        for action in actions:
            events.record(session, user_id=None, action=action, resource_type="thing")
        await session.commit()


async def _drain(platform: Platform, name: str, handler: outbox.Handler, seen: list[str], count: int) -> None:
    """Consume until ``count`` events were seen. On PostgreSQL a transaction of another test on the
    same server can hold the horizon back for a moment: the events come, a little later."""
    async def enough() -> bool:
        while await outbox.consume(platform, name, handler, batch=2):
            pass
        return len(seen) >= count
    await eventually_async(enough, what=f"{count} events for {name}")


async def _settled(platform: Platform, count: int) -> None:
    """Wait until ``count`` events are past PostgreSQL's horizon (a probe consumer saw them)."""
    probed: list[str] = []

    async def probe(_session: AsyncSession, entry: outbox.Entry) -> None:
        probed.append(entry.action)
    await _drain(platform, "probe", probe, probed, count)


async def test_each_consumer_gets_every_event_once_in_commit_order(platforms: Callable[[], Platform]) -> None:
    platform = platforms()
    await _record(platform, "a.1", "a.2")
    await _record(platform, "a.3")
    seen: dict[str, list[str]] = {"billing": [], "console": []}

    def collect(name: str) -> outbox.Handler:
        async def handle(_session: AsyncSession, entry: outbox.Entry) -> None:
            seen[name].append(entry.action)
        return handle

    await _drain(platform, "billing", collect("billing"), seen["billing"], 3)
    await _record(platform, "a.4")
    await _drain(platform, "billing", collect("billing"), seen["billing"], 4)
    await _drain(platform, "console", collect("console"), seen["console"], 4)
    assert seen == {"billing": ["a.1", "a.2", "a.3", "a.4"], "console": ["a.1", "a.2", "a.3", "a.4"]}
    assert await outbox.consume(platform, "billing", collect("billing")) == 0


async def test_a_consumer_that_starts_at_the_end_sees_only_new_events(platforms: Callable[[], Platform]) -> None:
    platform = platforms()
    await _record(platform, "old")
    seen, handle = _collector()
    assert await outbox.consume(platform, "live", handle, start_at_end=True) == 0
    await _record(platform, "new")

    async def came() -> bool:
        await outbox.consume(platform, "live", handle, start_at_end=True)
        return bool(seen)
    await eventually_async(came, what="the new event")
    assert seen == ["new"]


async def test_starting_at_the_end_skips_what_committed_while_a_transaction_held_the_horizon(
        platforms: Callable[[], Platform], database_url: str) -> None:
    """A transaction begun earlier and still running keeps PostgreSQL's horizon below an event
    already committed: a consumer starting at the end must not be handed that event later."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no horizon")
    platform = platforms()
    seen, handle = _collector()
    holder = platform.db.session()
    await holder.execute(text("SELECT pg_current_xact_id()"))  # a transaction with an id, still running
    await _record(platform, "old")
    assert await outbox.consume(platform, "late-live", handle, start_at_end=True) == 0
    await holder.rollback()
    await holder.close()
    await _record(platform, "new")
    await _drain(platform, "late-live", handle, seen, 1)
    assert seen == ["new"]


async def test_the_cursor_moves_with_the_handlers_writes_or_not_at_all(platforms: Callable[[], Platform]) -> None:
    platform = platforms()
    async with platform.db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE meter (action VARCHAR(100))"))
    await _record(platform, "m.1", "m.2")
    await _settled(platform, 2)
    fail = True

    async def meter(session: AsyncSession, entry: outbox.Entry) -> None:
        await session.execute(text("INSERT INTO meter (action) VALUES (:a)"), {"a": entry.action})
        if fail and entry.action == "m.2":
            raise RuntimeError("the handler failed half-way")

    with pytest.raises(RuntimeError):
        await outbox.consume(platform, "meter", meter)
    fail = False
    assert await outbox.consume(platform, "meter", meter) == 2  # handled again: m.1's write was rolled back
    async with platform.db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT action FROM meter ORDER BY action"))).scalars().all()
    assert rows == ["m.1", "m.2"]


async def test_an_event_committed_late_is_not_passed_over(platforms: Callable[[], Platform], database_url: str) -> None:
    """PostgreSQL numbers rows before they commit: a slow transaction's event (lower number)
    commits after a quick one's; a cursor moved past the quick one must still see the slow one."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite commits one transaction at a time")
    platform = platforms()
    seen, handle = _collector()
    slow = platform.db.session()
    events.record(slow, user_id=None, action="slow", resource_type="thing")
    await slow.flush()  # numbered now, committed later
    await _record(platform, "quick")
    assert await outbox.consume(platform, "late", handle) == 0  # the slow transaction holds the horizon
    await slow.commit()
    await slow.close()
    await _drain(platform, "late", handle, seen, 2)
    assert sorted(seen) == ["quick", "slow"]


async def test_an_audited_commit_wakes_the_consumer_loop(platforms: Callable[[], Platform]) -> None:
    platform = platforms()
    seen: list[str] = []
    arrived = asyncio.Event()

    async def handle(_session: AsyncSession, entry: outbox.Entry) -> None:
        seen.append(entry.action)
        arrived.set()

    loop = outbox.register(platform, "watcher", handle, interval=3600)  # only the commit's signal runs it again
    await platform.runner.start()
    while loop.runs < 1:  # its first pass (at start) found nothing
        await asyncio.sleep(0.01)
    await _record(platform, "woke")
    await asyncio.wait_for(arrived.wait(), 30)
    assert seen == ["woke"]


async def test_a_wake_up_held_back_by_a_running_transaction_is_not_lost(platforms: Callable[[], Platform],
                                                                          database_url: str) -> None:
    """The commit's signal arrives while another transaction keeps the event above the horizon: the
    loop looks again by itself when that transaction ends, not at its (here hour-long) period."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no horizon")
    platform = platforms()
    seen: list[str] = []
    arrived = asyncio.Event()

    async def handle(_session: AsyncSession, entry: outbox.Entry) -> None:
        seen.append(entry.action)
        arrived.set()

    loop = outbox.register(platform, "patient", handle, interval=3600)
    await platform.runner.start()
    while loop.runs < 1:
        await asyncio.sleep(0.01)
    holder = platform.db.session()
    await holder.execute(text("SELECT pg_current_xact_id()"))  # a transaction with an id, still running
    await _record(platform, "held")
    await asyncio.sleep(0.5)  # the signal ran the loop; the event is not visible to it yet
    assert seen == []
    await holder.rollback()
    await holder.close()
    await asyncio.wait_for(arrived.wait(), 30)
    assert seen == ["held"]

"""The test clock and moments from outside Cumulo (a container's stop time by the host's clock): a
real moment reads as the clock read then."""

from __future__ import annotations

import asyncio
import datetime as dt

from cumulo.core import clock as clocks
from cumulo.drivers.compute.docker import engine_time

START = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_a_realengine_time_reads_as_the_manual_clock_read_then() -> None:
    clock = clocks.ManualClock(START)
    before = _real_now()
    clock.advance(3600)
    middle = _real_now()
    clock.now = START + dt.timedelta(hours=5)
    after = _real_now()
    assert clock.at(middle) == START + dt.timedelta(hours=1)
    assert clock.at(after) == START + dt.timedelta(hours=5)
    assert clock.at(before) <= START + dt.timedelta(hours=1)
    early = clock._history[0][0] - dt.timedelta(seconds=30)
    assert clock.at(early) == START - dt.timedelta(seconds=30)  # before the clock was made: the same distance back


def test_reading_at_is_theengine_time_itself_without_a_test_clock_and_the_clocks_reading_with_one() -> None:
    moment = _real_now() - dt.timedelta(seconds=5)
    assert clocks.reading_at(moment) == moment
    assert clocks.reading_at(moment.replace(tzinfo=None)) == moment  # naive: UTC

    async def on_a_loop_with_a_clock() -> tuple[dt.datetime, dt.datetime]:
        loop = asyncio.get_running_loop()
        manual = clocks.ManualClock(START)
        between = _real_now()
        manual.advance(7200)
        clocks.install(loop, manual)
        try:
            return clocks.reading_at(between), clocks.utcnow()
        finally:
            clocks.uninstall(loop)

    then, now = asyncio.run(on_a_loop_with_a_clock())
    assert (then, now) == (START, START + dt.timedelta(hours=2))

    async def with_a_plain_callable() -> dt.timedelta:
        loop = asyncio.get_running_loop()
        clocks.install(loop, lambda: START)
        try:
            return START - clocks.reading_at(_real_now() - dt.timedelta(seconds=60))
        finally:
            clocks.uninstall(loop)

    assert dt.timedelta(seconds=60) <= asyncio.run(with_a_plain_callable()) < dt.timedelta(seconds=70)


def test_dockers_stop_times_are_read_to_the_microsecond() -> None:
    assert engine_time("2026-12-02T18:30:00.123456789Z") == dt.datetime(2026, 12, 2, 18, 30, 0, 123456, tzinfo=dt.UTC)
    assert engine_time("2026-12-02T18:30:00Z") == dt.datetime(2026, 12, 2, 18, 30, tzinfo=dt.UTC)
    assert engine_time("2026-12-02T19:30:00.5+01:00") == dt.datetime(2026, 12, 2, 18, 30, 0, 500000, tzinfo=dt.UTC)
    assert engine_time("0001-01-01T00:00:00Z") is None  # never stopped
    assert engine_time("") is None and engine_time(None) is None and engine_time("soon") is None

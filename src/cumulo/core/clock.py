"""Time, in one place, so tests can move it.

A test moves one server's time (and only that server's: the clock is installed on its event loop,
so other servers in the same process keep the real time) with a ``ManualClock``::

    clock = ManualClock(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    install(server.loop, clock)          # utcnow() on that loop answers clock.now
    clock.advance(3 * 3600)              # three hours later, at once
    uninstall(server.loop)

A moment taken by the host's own clock outside Cumulo (Docker's ``State.FinishedAt``, a process's
exit) is put in Cumulo's time with ``reading_at(moment)``: what ``utcnow()`` answered at that real
moment (the moment itself on the real clock; on a ``ManualClock``, the reading it had then).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
from collections.abc import Callable
from typing import overload

_installed: dict[asyncio.AbstractEventLoop, Callable[[], dt.datetime]] = {}


def _source() -> Callable[[], dt.datetime] | None:
    if not _installed:
        return None
    try:
        return _installed.get(asyncio.get_running_loop())
    except RuntimeError:
        return None


def utcnow() -> dt.datetime:
    """Timezone-aware current UTC time (a test clock's, on a loop that has one installed)."""
    source = _source()
    if source is not None:
        return source()
    return dt.datetime.now(dt.UTC)


def reading_at(moment: dt.datetime) -> dt.datetime:
    """What ``utcnow()`` answered at ``moment``, a real (host clock) UTC time, such as the moment Docker
    says a container stopped: that moment itself, unless a test clock is installed. A test clock that
    keeps its history (``ManualClock``) answers its reading at that real moment; another one, its
    reading now less the real time elapsed since."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    source = _source()
    if source is None:
        return moment
    if isinstance(source, ManualClock):
        return source.at(moment)
    return source() - (dt.datetime.now(dt.UTC) - moment)


class ManualClock:
    """A test clock: stands still until moved. It remembers when (by the real clock) it was moved, so
    a real moment reads as it did then (``at``)."""

    HISTORY = 100_000  # moves remembered

    def __init__(self, start: dt.datetime):
        self._history: list[tuple[dt.datetime, dt.datetime]] = []  # (real moment, reading from then on)
        self.now = start

    @property
    def now(self) -> dt.datetime:
        return self._now

    @now.setter
    def now(self, value: dt.datetime) -> None:
        self._now = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        self._history.append((dt.datetime.now(dt.UTC), self._now))
        if len(self._history) > self.HISTORY:
            del self._history[: len(self._history) - self.HISTORY]

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def at(self, real: dt.datetime) -> dt.datetime:
        """The reading at a real moment: the one set last before it (before the first, the first
        reading less the real time between them)."""
        i = bisect.bisect_right(self._history, real, key=lambda h: h[0]) - 1
        if i < 0:
            first_real, first = self._history[0]
            return first - (first_real - real)
        return self._history[i][1]


def install(loop: asyncio.AbstractEventLoop, clock: Callable[[], dt.datetime]) -> None:
    _installed[loop] = clock


def uninstall(loop: asyncio.AbstractEventLoop) -> None:
    _installed.pop(loop, None)


@overload
def aware(value: dt.datetime) -> dt.datetime: ...
@overload
def aware(value: None) -> None: ...
@overload
def aware(value: dt.datetime | None) -> dt.datetime | None: ...
def aware(value: dt.datetime | None) -> dt.datetime | None:
    """Databases such as SQLite hand back naive datetimes; they are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def iso(value: dt.datetime | None) -> str | None:
    value = aware(value)
    return value.isoformat().replace("+00:00", "Z") if value else None

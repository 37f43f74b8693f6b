"""Time, in one place, so tests can move it.

A test moves one server's time (and only that server's: the clock is installed on its event loop,
so other servers in the same process keep the real time) with a ``ManualClock``::

    clock = ManualClock(dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    install(server.loop, clock)          # utcnow() on that loop answers clock.now
    clock.advance(3 * 3600)              # three hours later, at once
    uninstall(server.loop)
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import overload

_installed: dict[asyncio.AbstractEventLoop, Callable[[], dt.datetime]] = {}


def utcnow() -> dt.datetime:
    """Timezone-aware current UTC time (a test clock's, on a loop that has one installed)."""
    if _installed:
        try:
            source = _installed.get(asyncio.get_running_loop())
        except RuntimeError:
            source = None
        if source is not None:
            return source()
    return dt.datetime.now(dt.UTC)


class ManualClock:
    """A test clock: stands still until moved."""

    def __init__(self, start: dt.datetime):
        self.now = start if start.tzinfo else start.replace(tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


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

"""``eventually``: wait for background work in a test (a condition, never a timing assertion)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, *, what: str | None = None,
               ignore: tuple[type[BaseException], ...] = ()) -> T:
    """Call ``check()`` until it returns something truthy, and return that. An exception listed in
    ``ignore`` counts as "not yet" (e.g. a port that does not answer yet). The timeout only stops a
    test that would hang: it fails with ``what`` (or the last value) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        last: object
        try:
            value = check()
        except ignore as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout:g} s; last value {last!r}")
        time.sleep(interval)


async def eventually_async(check: Callable[[], Awaitable[T]], timeout: float = 30.0, interval: float = 0.05, *,
                           what: str | None = None) -> T:
    """``eventually`` for a coroutine check, in a test that runs in the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout:g} s; last value {value!r}")
        await asyncio.sleep(interval)


def eventually_served(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.1, *,
                      what: str | None = None) -> T:
    """``eventually`` for a check that talks to a server: a port or URL that does not answer yet
    (``httpx.HTTPError``, ``OSError``) counts as "not yet"."""
    import httpx

    return eventually(check, timeout, interval, what=what, ignore=(httpx.HTTPError, OSError))

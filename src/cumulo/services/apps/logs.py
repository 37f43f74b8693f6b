"""Runtime logs: the last lines of the serving release's processes, and a follow that streams each
new line as it is written (``GET /apps/{app}/logs?follow=true``).

Following polls the engine's timestamped log of the app's current containers about once a second
and sends the lines newer than the last one sent; a deploy switches it to the new release's
processes. It ends when the client goes away or the app is deleted. A user has at most
``MAX_FOLLOWS`` follows open at once (429 beyond).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

from cumulo.core.errors import CumuloError, RateLimited
from cumulo.drivers.compute import compute_driver
from cumulo.platform import Platform
from cumulo.services.apps import runtime
from cumulo.services.apps.models import App

MAX_FOLLOWS = 10
POLL_SECONDS = 1.0
WINDOW = 1000  # lines read per container on each poll


def _key(stamp: str) -> str:
    """An RFC 3339 time with its fraction padded to nanoseconds, so keys sort as strings
    (Docker trims trailing zeros: ``.5Z`` must come after ``.123Z``)."""
    whole, _, frac = stamp.rstrip("Z").partition(".")
    return f"{whole}.{frac.ljust(9, '0')[:9]}"


async def _timed(platform: Platform, app_id: str, release_id: str | None, tail: int) -> list[tuple[str, str]]:
    """(key, line) of the release's containers, oldest first."""
    driver = compute_driver(platform)
    out: list[tuple[str, str]] = []
    for state in await runtime.containers(platform, app_id):
        if release_id is None or state.labels.get(runtime.LABEL_RELEASE) != release_id:
            continue
        with contextlib.suppress(CumuloError):
            for raw in (await driver.timed_logs(state.id, tail)).splitlines():
                stamp, _, line = raw.partition(" ")
                out.append((_key(stamp), line))
    out.sort(key=lambda item: item[0])
    return out


async def lines(platform: Platform, app: App, tail: int) -> list[str]:
    return [line for _, line in (await _timed(platform, app.id, app.current_release_id, tail))[-tail:]]


def check_slot(platform: Platform, user_id: str) -> dict[str, int]:
    """429 when the user already has ``MAX_FOLLOWS`` follows open."""
    open_now: dict[str, int] = platform.extras.setdefault("apps.follows", {})
    if open_now.get(user_id, 0) >= MAX_FOLLOWS:
        raise RateLimited(5, f"at most {MAX_FOLLOWS} log follows open at once; close one first")
    return open_now


@contextlib.contextmanager
def slot(platform: Platform, user_id: str) -> Iterator[None]:
    """One of the user's open follows, held while the stream lasts."""
    open_now = check_slot(platform, user_id)
    open_now[user_id] = open_now.get(user_id, 0) + 1
    try:
        yield
    finally:
        open_now[user_id] -= 1
        if not open_now[user_id]:
            del open_now[user_id]


async def follow(platform: Platform, app_id: str, tail: int) -> AsyncIterator[str]:
    """The last ``tail`` lines, then every new one, each ending in a newline."""
    last, at_last = "", set[str]()
    first = True
    while True:
        async with platform.db.session() as session:
            app = await session.get(App, app_id)
        if app is None:
            yield "-----> the app was deleted\n"
            return
        batch = await _timed(platform, app_id, app.current_release_id, tail if first else WINDOW)
        fresh = [(k, line) for k, line in batch if k > last or (k == last and line not in at_last)]
        if first:
            fresh = fresh[-tail:]
            first = False
        for key, line in fresh:
            if key != last:
                last, at_last = key, set()
            at_last.add(line)
            yield line + "\n"
        await asyncio.sleep(POLL_SECONDS)

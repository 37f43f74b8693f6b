"""Wake-ups for long-polling receivers: "queue X may have visible messages now".

In one process, a per-queue ``asyncio.Event``. On PostgreSQL the wake-up also crosses processes
(several API processes, or a worker delivering cron and notify messages into queues): ``notify``
publishes the queue id with ``pg_notify`` (batched: one statement per loop turn, whatever the
number of sends), and a process that has receivers waiting listens on one connection of its own
and sets their events. Receivers still re-read the database every ``queue_poll_seconds`` (delays
and visibility timeouts end without anyone sending), so a lost notification only costs latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from cumulo.platform import Platform

CHANNEL = "cumulo_queues"
log = logging.getLogger("cumulo.queues")


class Signals:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.pg = platform.db.is_postgres
        self._events: dict[str, asyncio.Event] = {}
        self._outbox: set[str] = set()
        self._flushing: asyncio.Task[None] | None = None
        self._listener: Any = None
        self._listening: asyncio.Task[None] | None = None
        platform.closers.append(self.close)

    def current(self, queue_id: str) -> asyncio.Event:
        """The event the next ``notify`` of this queue sets (take it before reading the queue)."""
        event = self._events.get(queue_id)
        if event is None:
            event = self._events[queue_id] = asyncio.Event()
        return event

    def notify(self, queue_id: str) -> None:
        self._wake(queue_id)
        if self.pg:
            self._outbox.add(queue_id)
            if self._flushing is None:  # runs at the next loop turn, with every id queued until then
                self._flushing = asyncio.ensure_future(self._flush())

    def _wake(self, queue_id: str) -> None:
        event = self._events.pop(queue_id, None)
        if event is not None:
            event.set()

    async def _flush(self) -> None:
        ids, self._outbox, self._flushing = sorted(self._outbox), set(), None
        try:
            pool = await self.platform.db.asyncpg_pool()
            await pool.execute("SELECT pg_notify($1, q) FROM unnest($2::text[]) AS q", CHANNEL, ids)
        except Exception:  # receivers elsewhere fall back to polling
            log.warning("could not publish queue wake-ups", exc_info=True)

    async def listen(self) -> None:
        """Make sure this process hears other processes' wake-ups (PostgreSQL; idempotent)."""
        if not self.pg or self._listening is not None:
            return
        self._listening = asyncio.ensure_future(self._listen())

    async def _listen(self) -> None:
        import asyncpg

        try:
            self._listener = await asyncpg.connect(self.platform.db.asyncpg_dsn)
            await self._listener.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: self._wake(payload))
            self._listener.add_termination_listener(lambda _c: self._lost())
        except Exception:  # polling still works; the next waiting receiver retries
            log.warning("could not listen for queue wake-ups", exc_info=True)
            self._listener = None
            self._listening = None

    def _lost(self) -> None:
        self._listener, self._listening = None, None

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close()
        self._listening = None


def signals(platform: Platform) -> Signals:
    return platform.get_or_create("queues.signals", lambda: Signals(platform))

"""Wake-ups for long-polling receivers: "queue X may have visible messages now".

In one process, a per-queue ``asyncio.Event``. The wake-up is a signal of the platform
(``cumulo.runtime.signals``, topic ``queue``): on PostgreSQL it also crosses processes (several API
processes, or a worker delivering cron and notify messages into queues), batched into one
``pg_notify`` per loop turn. A process listens for other processes' signals once a receiver of
its own waits (``listen``). Receivers still re-read the database every ``queue_poll_seconds``
(delays and visibility timeouts end without anyone sending), so a lost signal only costs latency.
"""

from __future__ import annotations

import asyncio

from cumulo.platform import Platform

TOPIC = "queue"


class QueueSignals:
    def __init__(self, platform: Platform):
        self.signals = platform.signals
        self._events: dict[str, asyncio.Event] = {}
        self.signals.on(TOPIC, self._wake)

    def current(self, queue_id: str) -> asyncio.Event:
        """The event the next ``notify`` of this queue sets (take it before reading the queue)."""
        event = self._events.get(queue_id)
        if event is None:
            event = self._events[queue_id] = asyncio.Event()
        return event

    def waiting(self, queue_id: str) -> bool:
        """Whether a receiver of this process waits for the queue's next ``notify``."""
        return queue_id in self._events

    def notify(self, queue_id: str) -> None:
        self.signals.send(TOPIC, queue_id)

    def _wake(self, queue_id: str) -> None:
        event = self._events.pop(queue_id, None)
        if event is not None:
            event.set()

    async def listen(self) -> None:
        """Make sure this process hears other processes' wake-ups (PostgreSQL; idempotent)."""
        await self.signals.listen()


def signals(platform: Platform) -> QueueSignals:
    return platform.get_or_create("queues.signals", lambda: QueueSignals(platform))

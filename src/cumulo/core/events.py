"""Event bus: publishers say what changed, subscribers (reconcilers, the audit log) react.

Publishing never blocks and never fails the publisher: a subscriber error is logged and dropped.
Subscribers in other processes hear it too when a ``relay`` is set (the platform sets one:
``cumulo.runtime.signals.relay_bus``); events from other processes come in through ``deliver``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("cumulo.events")

Handler = Callable[["Event"], Awaitable[None] | None]


@dataclass(frozen=True)
class Event:
    topic: str  # e.g. "instance.created"
    resource_id: str | None = None
    user_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class Bus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self.relay: Callable[[Event], None] | None = None

    def subscribe(self, prefix: str, handler: Handler) -> None:
        """Handle every event whose topic starts with ``prefix`` ("" for all)."""
        self._handlers[prefix].append(handler)

    def publish(self, event: Event) -> None:
        self.deliver(event)
        if self.relay is not None:
            try:
                self.relay(event)
            except Exception:
                log.exception("event %s not relayed", event.topic)

    def deliver(self, event: Event) -> None:
        """To this process's subscribers only."""
        for prefix, handlers in list(self._handlers.items()):
            if event.topic.startswith(prefix):
                for handler in handlers:
                    self._call(handler, event)

    @staticmethod
    def _call(handler: Handler, event: Event) -> None:
        try:
            result = handler(event)
            if asyncio.iscoroutine(result):
                task = asyncio.get_running_loop().create_task(result)
                task.add_done_callback(_log_failure)
        except Exception:
            log.exception("event handler failed for %s", event.topic)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception():
        log.error("event handler failed", exc_info=task.exception())

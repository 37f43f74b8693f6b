"""Signals that cross processes: "loop X, run now", "queue Y may have messages", "object Z changed".

A signal is a topic and a short text payload. ``send`` delivers it at once to this process's
handlers (``on(topic, handler)``) and, on PostgreSQL, to every other process on the database (API
processes, workers, other hosts): sends are batched into one ``pg_notify`` statement per loop turn,
and each process hears the others on one LISTEN connection of its own, opened by ``listen()``
(idempotent; the runner opens it at start, a long-polling receiver when it first waits) and opened
again after it is lost. A process does not hear its own sends twice.

On SQLite every process is on one host and most installations run one process (``cumulo up``):
signals stay in the process. ``cumulo api`` and ``cumulo worker`` as separate processes on SQLite
therefore converge at the next sweep, not at once; use PostgreSQL for that layout.

Signals are hints, not messages: one may be lost (a dropped connection, a process that was not
listening yet), so every consumer also re-reads the database on a period. Handlers run on the
event loop and must not block; they typically set an ``asyncio.Event`` or queue a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar

from cumulo.core.events import Bus, Event
from cumulo.db.engine import Database

CHANNEL = "cumulo_signals"
MAX_PAYLOAD = 900  # bytes per signal; NOTIFY takes up to 8000 per message
_SEP = "\x1f"  # unit separator: never in a topic, an id or a loop name
log = logging.getLogger("cumulo.signals")

Handler = Callable[[str], None]


class Signals:
    _by_engine: ClassVar[weakref.WeakKeyDictionary[Any, Signals]] = weakref.WeakKeyDictionary()

    def __init__(self, db: Database):
        self.db = db
        Signals._by_engine[db.engine.sync_engine] = self
        self.remote = db.is_postgres
        self._token = uuid.uuid4().hex[:12]  # tells this process's own notifications apart
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._pending: set[str] = set()
        self._flushing: asyncio.Future[None] | None = None
        self._listener: Any = None
        self.listening: asyncio.Future[None] | None = None  # set once LISTEN was asked for; done when in place

    @classmethod
    def of(cls, bind: Any) -> Signals | None:
        """The signals of the database a (sync) session is bound to, for hooks that see only the
        session (e.g. after a commit)."""
        return cls._by_engine.get(bind)

    def on(self, topic: str, handler: Handler) -> None:
        """Call ``handler(payload)`` for every signal of ``topic``, from this process or another."""
        self._handlers[topic].append(handler)

    def off(self, topic: str, handler: Handler) -> None:
        with contextlib.suppress(ValueError):
            self._handlers[topic].remove(handler)

    def send(self, topic: str, payload: str = "", *, here: bool = True) -> None:
        """Deliver now in this process (unless ``here=False``); on PostgreSQL also to the others (at
        the next loop turn)."""
        if len(payload.encode()) > MAX_PAYLOAD or _SEP in topic or _SEP in payload:
            raise ValueError(f"signal {topic!r}: payload too long or with a separator")
        if here:
            self._deliver(topic, payload)
        if self.remote:
            self._pending.add(f"{self._token}{_SEP}{topic}{_SEP}{payload}")
            if self._flushing is None:  # one statement for every signal sent during this loop turn
                self._flushing = asyncio.ensure_future(self._flush())

    def _deliver(self, topic: str, payload: str) -> None:
        for handler in list(self._handlers.get(topic, ())):
            try:
                handler(payload)
            except Exception:
                log.exception("signal handler for %s failed", topic)

    async def _flush(self) -> None:
        messages, self._pending, self._flushing = sorted(self._pending), set(), None
        try:
            pool = await self.db.asyncpg_pool()
            await pool.execute("SELECT pg_notify($1, m) FROM unnest($2::text[]) AS m", CHANNEL, messages)
        except Exception:  # the others fall back to their periodic re-read
            log.warning("could not publish %d signal(s)", len(messages), exc_info=True)

    def _heard(self, payload: str) -> None:
        token, _, rest = payload.partition(_SEP)
        if token == self._token:
            return  # delivered locally when sent
        topic, _, value = rest.partition(_SEP)
        self._deliver(topic, value)

    async def listen(self) -> None:
        """Make sure this process hears the other processes' signals (PostgreSQL; idempotent, returns
        at once: ``await signals.listening`` waits until LISTEN is in place)."""
        if not self.remote or self.listening is not None:
            return
        self.listening = asyncio.ensure_future(self._listen())

    async def _listen(self) -> None:
        import asyncpg

        try:
            self._listener = await asyncpg.connect(self.db.asyncpg_dsn)
            await self._listener.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: self._heard(payload))
            self._listener.add_termination_listener(lambda _c: self._lost())
        except Exception:  # periodic re-reads still work; the next listen() tries again
            log.warning("could not listen for signals", exc_info=True)
            self._listener = None
            self.listening = None

    def _lost(self) -> None:
        """The LISTEN connection ended (server restart, network): listen again if we were listening."""
        was = self.listening is not None
        self._listener, self.listening = None, None
        if was:
            with contextlib.suppress(RuntimeError):  # no running loop: the process is stopping
                asyncio.get_running_loop().call_later(1.0, lambda: asyncio.ensure_future(self.listen()))

    async def close(self) -> None:
        listener, self._listener, self.listening = self._listener, None, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close()
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing


BUS = "bus"


def relay_bus(bus: Bus, signals: Signals) -> None:
    """Bus events cross processes too: each published event is also sent as a signal, and events
    heard from other processes reach this process's subscribers (an event whose JSON is longer
    than ``MAX_PAYLOAD`` stays in its process, with a warning)."""

    def out(event: Event) -> None:
        if not signals.remote:
            return
        payload = json.dumps({"topic": event.topic, "resource_id": event.resource_id, "user_id": event.user_id,
                              "data": event.data}, separators=(",", ":"), default=str)
        try:
            signals.send(BUS, payload, here=False)
        except ValueError:
            log.warning("bus event %s not relayed to other processes: too large", event.topic)

    def heard(payload: str) -> None:
        bus.deliver(Event(**json.loads(payload)))

    bus.relay = out
    signals.on(BUS, heard)

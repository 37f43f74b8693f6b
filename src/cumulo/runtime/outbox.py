"""The audit table as a transactional outbox: consumers read every recorded event, in commit order,
from a cursor of their own.

Every state change is recorded in ``events`` in the transaction that makes it
(``cumulo.services.events.service.record``), so an event exists exactly when its change was
committed. A consumer (billing's meter, the console's live updates, ...) names itself and handles
the events after its stored cursor::

    async def meter(session: AsyncSession, entry: Entry) -> None:
        if entry.action == "instance.running":
            session.add(Usage(...))            # in the same transaction as the cursor update

    outbox.register(platform, "billing.meter", meter)   # in the service's reconciler.register

``consume`` runs one batch in ONE transaction: it locks the consumer's cursor row (two workers
never handle one consumer's events at once), calls the handler for each entry in order with that
transaction's session, moves the cursor past them and commits. So the handler's database writes
and the cursor move commit together: exactly once for what the handler writes in ``session``.
Anything else the handler does (an HTTP call, a WebSocket push) happens *at least once*: if the
commit fails or the process dies before it, the batch is handled again. Make such effects
idempotent (e.g. keyed by ``entry.id``). A handler that raises rolls the batch back; the loop
retries it later (the events stay, in order: a poison event blocks its consumer until fixed,
rather than being skipped silently).

Order: SQLite commits one transaction at a time, so ``rowid`` is the commit order. On PostgreSQL
the outbox reads only rows whose transaction ended before every still-running transaction began
(``pg_snapshot_xmin``), in (transaction id, sequence) order, so a row that commits late is never
passed over; a long-running transaction anywhere on the server delays consumers, never loses
events. The columns and the ``outbox_cursors`` table come from the events branch's migration
(``events_0002``).

Wake-ups: a commit that recorded events sends the ``outbox`` signal (``runtime/signals.py``, across
processes on PostgreSQL), which runs every consumer loop of the process at once; the loop also
runs every ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, String, column, event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from cumulo.core.clock import aware
from cumulo.platform import Platform
from cumulo.runtime.signals import Signals
from cumulo.runtime.tasks import Loop

TOPIC = "outbox"
AUDITED = "cumulo.audited"  # session.info flag set by events.record
BATCH = 100
INTERVAL = 5.0


@dataclass(frozen=True)
class Entry:
    """One audit row, as a consumer sees it."""

    id: str
    action: str
    resource_type: str
    resource_id: str | None
    user_id: str | None
    actor_id: str | None
    data: dict[str, Any]
    created_at: dt.datetime
    position: tuple[int, int]  # (txid, seq) on PostgreSQL, (0, rowid) on SQLite


Handler = Callable[[AsyncSession, Entry], Awaitable[None]]

_COLUMNS = "id, action, resource_type, resource_id, user_id, actor_id, data, created_at"
_TYPES = (column("id", String), column("action", String), column("resource_type", String),
          column("resource_id", String), column("user_id", String), column("actor_id", String),
          column("data", JSON), column("created_at", DateTime(timezone=True)), column("txn", BigInteger),
          column("pos", BigInteger))
_READ = {
    "sqlite": text(f"SELECT {_COLUMNS}, 0 AS txn, rowid AS pos FROM events WHERE rowid > :seq "
                   "ORDER BY rowid LIMIT :n").columns(*_TYPES),
    "postgresql": text(f"SELECT {_COLUMNS}, txid::text::bigint AS txn, seq AS pos FROM events "
                       "WHERE (txid, seq) > (CAST(:txid AS bigint)::text::xid8, :seq) "
                       "AND txid < pg_snapshot_xmin(pg_current_snapshot()) "
                       "ORDER BY txid, seq LIMIT :n").columns(*_TYPES),
}
_START = text("INSERT INTO outbox_cursors (name, txid, seq, updated_at) VALUES (:name, 0, 0, :now) "
              "ON CONFLICT (name) DO NOTHING")
_START_AT_END = {  # a new cursor after every event already committed
    "sqlite": text("INSERT INTO outbox_cursors (name, txid, seq, updated_at) "
                   "SELECT :name, 0, COALESCE(MAX(rowid), 0), :now FROM events WHERE true "
                   "ON CONFLICT (name) DO NOTHING"),
    # Past the horizon, and past every event this snapshot sees committed above it: a transaction
    # that began earlier and is still running holds the horizon below events already committed,
    # which a consumer starting at the end must not be handed once that transaction ends. (An event
    # of such a transaction, committed after this, is behind the cursor and not seen: a consumer
    # starting at the end sees what commits from now on, give or take the transactions in flight.)
    "postgresql": text("INSERT INTO outbox_cursors (name, txid, seq, updated_at) "
                       "SELECT :name, GREATEST(pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1, "
                       "COALESCE((SELECT txid::text::bigint FROM events ORDER BY txid DESC, seq DESC LIMIT 1), 0)), "
                       "9223372036854775807, :now ON CONFLICT (name) DO NOTHING"),
}
_LOCK = {"sqlite": text("SELECT txid, seq FROM outbox_cursors WHERE name = :name"),
         "postgresql": text("SELECT txid, seq FROM outbox_cursors WHERE name = :name FOR UPDATE")}
_MOVE = text("UPDATE outbox_cursors SET txid = :txid, seq = :seq, updated_at = :now WHERE name = :name")
# Committed after the cursor but not yet below the horizon (a transaction elsewhere still runs).
_HELD = text("SELECT 1 FROM events e JOIN outbox_cursors c ON c.name = :name "
             "WHERE (e.txid, e.seq) > (CAST(c.txid AS bigint)::text::xid8, c.seq) LIMIT 1")
HELD_RETRY = (0.05, 2.0)  # first and longest wait while events are held back by the horizon


async def consume(platform: Platform, name: str, handler: Handler, *, batch: int = BATCH,
                  start_at_end: bool = False) -> int:
    """Handle the next ``batch`` events after consumer ``name``'s cursor, in one transaction; the
    number handled. A new consumer starts at the first event ever recorded, or with
    ``start_at_end`` at the events committed from now on."""
    dialect = platform.db.dialect
    async with platform.db.session() as session:
        # Writing first also takes SQLite's write lock, so two consumers of one name wait in turn.
        await session.execute(_START_AT_END[dialect] if start_at_end else _START, {"name": name, "now": time.time()})
        txid, seq = (await session.execute(_LOCK[dialect], {"name": name})).one()
        rows = (await session.execute(_READ[dialect], {"txid": txid, "seq": seq, "n": batch})).all()
        for row in rows:
            await handler(session, Entry(id=row.id, action=row.action, resource_type=row.resource_type,
                                         resource_id=row.resource_id, user_id=row.user_id, actor_id=row.actor_id,
                                         data=row.data or {}, created_at=aware(row.created_at),
                                         position=(int(row.txn), int(row.pos))))
        if rows:
            await session.execute(_MOVE, {"name": name, "txid": rows[-1].txn, "seq": rows[-1].pos, "now": time.time()})
        await session.commit()
    return len(rows)


async def held(platform: Platform, name: str) -> bool:
    """Events committed after consumer ``name``'s cursor wait below PostgreSQL's horizon (always
    false on SQLite, which has none)."""
    if platform.db.dialect != "postgresql":
        return False
    async with platform.db.session() as session:
        return (await session.execute(_HELD, {"name": name})).first() is not None


def register(platform: Platform, name: str, handler: Handler, *, interval: float = INTERVAL,
             batch: int = BATCH, start_at_end: bool = False) -> Loop:
    """A runner loop ``outbox.<name>`` that drains the consumer's events, run at once by every
    audited commit (in any process, on PostgreSQL) and every ``interval`` seconds."""

    async def drain() -> None:
        wait, spent = HELD_RETRY[0], 0.0
        while True:
            while await consume(platform, name, handler, batch=batch, start_at_end=start_at_end) == batch:
                pass
            # A wake-up can arrive while another transaction holds the horizon back: look again
            # soon (backing off) rather than at the next period, until the period would run anyway.
            if spent >= interval or not await held(platform, name):
                return
            await asyncio.sleep(wait)
            spent += wait
            wait = min(wait * 2, HELD_RETRY[1])

    loop = platform.runner.every(f"outbox.{name}", interval, drain)
    platform.signals.on(TOPIC, lambda _payload: loop.wake() if platform.runner.started else None)
    return loop


# --- the commit hook: an audited commit sends the outbox signal --------------------------------------

def mark(session: AsyncSession) -> None:
    """The session's transaction recorded an event (called by ``events.record``)."""
    session.info[AUDITED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(AUDITED, False):
        signals = Signals.of(session.bind)
        if signals is not None:
            signals.send(TOPIC)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(AUDITED, None)

"""Locks that hold across processes: ``await hold(session, name)`` makes the session's transaction
the only one holding ``name`` until it commits or rolls back, in every process that shares the
database (several API processes, several hosts on one PostgreSQL).

Use ``hold`` where a check and the write that depends on it must not interleave, e.g. a quota check
followed by the insert that consumes the quota. In-process callers should also queue on an
``asyncio.Lock`` first, so they wait on the event loop instead of in the database.

Leases (``take_lease``/``drop_lease``, below) are the other kind: a named lock held outside any
transaction, for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.query import Query

if TYPE_CHECKING:
    from cumulo.db.engine import Database

LOCK_NAMES = Query(text(
    "SELECT pg_advisory_xact_lock(h) FROM (SELECT hashtextextended(k, 0) AS h "
    "FROM unnest(CAST(:names AS text[])) AS k ORDER BY h) AS ordered"))
"""PostgreSQL: the transaction holds the advisory lock of every name in ``:names`` until it ends,
taken in hash order so two transactions locking overlapping sets never deadlock. The one copy of
the advisory-lock SQL: ``hold`` below and the statement lane's batches (``db/lane.py``) use it."""
# SQLite has one writer at a time. Beginning the write now, with a statement that changes nothing,
# takes the database's write lock for the rest of the transaction: another process's transaction
# waits here (busy_timeout) and then reads what this one committed. Coarser than a lock per name,
# which SQLite cannot offer, and just as correct.
_SQLITE_LOCK = text("DELETE FROM alembic_version WHERE 0")


async def hold(session: AsyncSession, name: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(LOCK_NAMES.statement, {"names": [name]})
    else:
        await session.execute(_SQLITE_LOCK)


# --- leases -----------------------------------------------------------------------------------------
# A lease is a lock held for a while, outside any transaction: a row (name, holder, expires_at) in
# the ``leases`` table (created by the events branch's migration, with the outbox cursors). Whoever
# inserts the row, or finds it expired, holds it until it releases it or the expiry passes, so a
# holder that dies frees it at the expiry. Used by the reconcile runtime: one worker at a time
# converges an object (a Docker call may take seconds; no transaction stays open meanwhile).
# Expiries are wall-clock seconds (UNIX time) of the processes taking leases: their clocks must
# agree to well within the lease time (NTP), which every host of one installation does.

_TAKE = text(
    "INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :expires) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.expires_at < :now OR leases.holder = excluded.holder")
_DROP = text("DELETE FROM leases WHERE name = :name AND holder = :holder")


async def take_lease(db: Database, name: str, holder: str, seconds: float) -> bool:
    """Hold ``name`` for ``seconds`` (again, when ``holder`` holds it already): False if another
    holder has it and its lease has not expired."""
    now = time.time()
    async with db.engine.begin() as conn:
        result = await conn.execute(_TAKE, {"name": name, "holder": holder, "expires": now + seconds, "now": now})
    return bool(result.rowcount)


async def drop_lease(db: Database, name: str, holder: str) -> None:
    """Give ``name`` back (a no-op when ``holder`` no longer holds it)."""
    async with db.engine.begin() as conn:
        await conn.execute(_DROP, {"name": name, "holder": holder})


def holder_id() -> str:
    """A lease holder's name for this process (host, pid, and a random part for each holder in it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def keep_lease(db: Database, name: str, holder: str, seconds: float) -> None:
    """Renew ``holder``'s lease on ``name`` every third of ``seconds`` until cancelled (run as a task
    beside the work the lease covers; a failed renewal is tried again at the next turn)."""
    while True:
        await asyncio.sleep(seconds / 3)
        with contextlib.suppress(Exception):
            await take_lease(db, name, holder, seconds)


@contextlib.asynccontextmanager
async def kept(db: Database, name: str, holder: str, seconds: float) -> AsyncIterator[None]:
    """The lease ``holder`` has just taken on ``name``, renewed (``keep_lease``) while the block runs
    and given back when it ends, however it ends."""
    renew = asyncio.create_task(keep_lease(db, name, holder, seconds))
    try:
        yield
    finally:
        renew.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renew
        with contextlib.suppress(Exception):
            await drop_lease(db, name, holder)

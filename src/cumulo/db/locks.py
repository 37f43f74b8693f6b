"""Locks that hold across processes: ``await hold(session, name)`` makes the session's transaction
the only one holding ``name`` until it commits or rolls back, in every process that shares the
database (several API processes, several hosts on one PostgreSQL).

Use it where a check and the write that depends on it must not interleave, e.g. a quota check
followed by the insert that consumes the quota. In-process callers should also queue on an
``asyncio.Lock`` first, so they wait on the event loop instead of in the database.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_PG_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")
# SQLite has one writer at a time. Beginning the write now, with a statement that changes nothing,
# takes the database's write lock for the rest of the transaction: another process's transaction
# waits here (busy_timeout) and then reads what this one committed. Coarser than a lock per name,
# which SQLite cannot offer, and just as correct.
_SQLITE_LOCK = text("DELETE FROM alembic_version WHERE 0")


async def hold(session: AsyncSession, name: str) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(_PG_LOCK, {"name": name})
    else:
        await session.execute(_SQLITE_LOCK)

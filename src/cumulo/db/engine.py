"""Engine and sessions for SQLite (default) and PostgreSQL.

Sessions (``db.session()``) are the ordinary unit of work. Hot paths (authentication, key listing,
object lookups and writes, the queue statements) run prepared statements (``db/query.py``) on the
database's statement lane instead (``db.lane``, ``db/lane.py``): plain ``sqlite3`` on SQLite, the
process's asyncpg pool on PostgreSQL. ``db.read(query, **params)`` is the lane's read.

An in-memory SQLite database is refused: every connection (migrations, sessions, the lane) would see
a database of its own.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from cumulo.db import sqlite
from cumulo.db.lane import Lane, PgLane, SqliteLane
from cumulo.db.query import Query

ASYNCPG_POOL_SIZE = 16  # connections per process (the queue bench's 8 producers + 8 consumers get one each)
POOL_SETTINGS = {"enable_seqscan": "off", "enable_bitmapscan": "off"}
"""The hot paths read a handful of rows through an index (by primary key, by a unique key, or
the oldest visible messages of one queue), so the pool's connections plan nothing else. asyncpg
keeps statements prepared, and PostgreSQL settles on a generic plan after five executions: planned
while a new table is nearly empty (no statistics until the first ANALYZE), that was a sequential
scan, or a bitmap scan of all of a queue's visible messages plus a sort, which then cost
O(backlog) per statement for as long as the connection lived."""

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(url: str, table: dict[str, str]) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in table:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=table[backend]).render_as_string(hide_password=False)


def async_url(url: str) -> str:
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> str:
    return _with_driver(url, _SYNC_DRIVERS)


class Database:
    """One engine per process; ``session()`` opens a unit of work."""

    def __init__(self, url: str):
        self.url = async_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.sqlite_path: str | None = None  # SQLite: the database's file
        self._pg: tuple[asyncio.AbstractEventLoop, Any] | None = None
        self._pg_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = \
            weakref.WeakKeyDictionary()
        if self.dialect == "sqlite":
            if sqlite.is_in_memory(parsed.database, dict(parsed.query)):
                raise ValueError("an in-memory SQLite database cannot be used: each of Cumulo's connections "
                                 "(migrations, sessions, the statement lane) would see a database of its own. "
                                 "Give a file (sqlite:///path/to/cumulo.db), or leave CUMULO_DATABASE_URL unset")
            assert parsed.database is not None
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(
                self.url, connect_args={"timeout": 30}, pool_size=8, max_overflow=8
            )
            event.listen(self.engine.sync_engine, "connect", lambda conn, _record: sqlite.pragmas(conn, "writer"))
            self.sqlite_path = parsed.database
            self.lane: Lane = SqliteLane(parsed.database, self.engine.dialect)
        else:
            self.engine = create_async_engine(self.url, pool_size=10, max_overflow=20, pool_recycle=1800)
            self.lane = PgLane(self)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def read(self, statement: Any, **params: Any) -> Sequence[Sequence[Any]]:
        """All rows of a read-only statement, by the cheapest path the database allows.

        ``statement`` is a prepared ``Query`` with its parameters as keywords (the statement lane:
        no statement building, no result objects, plain tuples back), or any Core SELECT (an
        ordinary connection)."""
        if isinstance(statement, Query):
            return await self.lane.rows(statement, **params)
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).all()

    @property
    def asyncpg_dsn(self) -> str:
        """The PostgreSQL URL as asyncpg takes it (for connections outside the pool, e.g. LISTEN)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def asyncpg_pool(self) -> Any:
        """PostgreSQL only: the process's asyncpg pool for hot paths (the statement lane, signals),
        made in the running loop on first use, and again if a later caller runs in another loop. No
        SQLAlchemy pool checkout or greenlet per statement, statements stay prepared per connection.
        Its connections plan index scans only and skip the reset on release (see ``POOL_SETTINGS``
        and ``_no_reset``): a transaction on it must end before its connection is released, and
        take only transaction-scoped locks (the lane's batches do both)."""
        loop = asyncio.get_running_loop()
        if self._pg is not None and self._pg[0] is loop:
            return self._pg[1]
        async with self._pg_locks.setdefault(loop, asyncio.Lock()):
            if self._pg is None or self._pg[0] is not loop:
                import asyncpg

                pool = await asyncpg.create_pool(self.asyncpg_dsn, min_size=1, max_size=ASYNCPG_POOL_SIZE, init=_json_codecs,
                                                 reset=_no_reset, server_settings=POOL_SETTINGS)
                self._pg = (loop, pool)
        return self._pg[1]

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not connected"
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._pg is not None and self._pg[0] is asyncio.get_running_loop():
            await self._pg[1].close()
        self._pg = None
        self.lane.close()


async def _no_reset(_conn: Any) -> None:
    """Nothing to reset on release: single statements, and transactions that ended with their
    transaction-scoped locks, leave no session state (asyncpg's default reset costs a round trip per
    statement: advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL)."""


async def _json_codecs(conn: Any) -> None:
    """JSON out as Python objects; in as the text the column type encoded (``db/query.py``: values
    are converted once, by their SQLAlchemy type, as the ORM converts them)."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_json_text, decoder=json.loads, schema="pg_catalog")


def _json_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a JSON parameter is encoded by its type: give the bindparam a JSON type "
                        "(bindparam(name, type_=JSON) or the column's type)")
    return value

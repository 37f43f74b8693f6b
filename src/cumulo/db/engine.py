"""Engine and sessions for SQLite (default) and PostgreSQL.

``Database.read(query, **params)`` is the fast lane for hot read paths (authentication, key
listing, object lookups), given a prepared ``Query`` (``db/query.py``): on SQLite it runs on a
plain ``sqlite3`` connection in the calling thread (a point read in WAL mode takes tens of
microseconds and never waits for writers, cheaper than the two thread hops aiosqlite needs per
statement); on PostgreSQL on the process's asyncpg pool (``asyncpg_pool``; statements stay
prepared per connection).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

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
        self.sqlite_path: str | None = None  # a file-backed SQLite database: the read lane's file
        self._raw = threading.local()
        self._raw_all: list[sqlite3.Connection] = []
        self._pg: tuple[asyncio.AbstractEventLoop, Any] | None = None
        self._pg_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = \
            weakref.WeakKeyDictionary()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(
                self.url, connect_args={"timeout": 30}, pool_size=8, max_overflow=8
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            if parsed.database and parsed.database != ":memory:":
                self.sqlite_path = parsed.database
        else:
            self.engine = create_async_engine(self.url, pool_size=10, max_overflow=20, pool_recycle=1800)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def session(self) -> AsyncSession:
        return self.sessionmaker()

    async def read(self, statement: Any, **params: Any) -> Sequence[Sequence[Any]]:
        """All rows of a read-only statement, by the cheapest path the database allows.

        ``statement`` is a prepared ``Query`` with its parameters as keywords (the fast lane: no
        statement building, no result objects, plain tuples back), or any Core SELECT (an ordinary
        connection)."""
        if isinstance(statement, Query):
            return await self._read_prepared(statement, params)
        async with self.engine.connect() as conn:
            return (await conn.execute(statement)).all()

    async def _read_prepared(self, query: Query, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        form = query.form(self.engine.dialect)
        if self.sqlite_path is not None:
            return form.rows(self._raw_reader().execute(form.sql, form.args(params)).fetchall())
        pool = await self.asyncpg_pool()
        return form.rows(await pool.fetch(form.sql, *form.args(params)))

    @property
    def asyncpg_dsn(self) -> str:
        """The PostgreSQL URL as asyncpg takes it (for connections outside the pool, e.g. LISTEN)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def asyncpg_pool(self) -> Any:
        """PostgreSQL only: the process's asyncpg pool for hot paths (the read lane, the queue
        store), made in the running loop on first use, and again if a later caller runs in another
        loop. No SQLAlchemy pool checkout or greenlet per statement, statements stay prepared per
        connection. Its connections plan index scans only and skip the reset on release (see
        ``POOL_SETTINGS``): use it for single statements, never for a transaction."""
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

    def _raw_reader(self) -> sqlite3.Connection:
        """This thread's plain sqlite3 connection of the read lane (autocommit: every read sees the
        latest commit)."""
        conn: sqlite3.Connection | None = getattr(self._raw, "conn", None)
        if conn is None:
            assert self.sqlite_path is not None
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None, check_same_thread=False)
            _sqlite_reader_pragmas(conn)
            self._raw.conn = conn
            self._raw_all.append(conn)
        return conn

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
        for conn in self._raw_all:
            conn.close()
        self._raw_all.clear()
        self._raw = threading.local()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode")
    if str(cur.fetchone()[0]).lower() != "wal":  # switching needs a lock that does not wait: only once
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_reader_pragmas(conn: sqlite3.Connection) -> None:
    """The read lane never writes, and waits at most briefly (it runs on the event loop's thread)."""
    conn.execute("PRAGMA query_only=ON")
    conn.execute("PRAGMA busy_timeout=1000")


async def _no_reset(_conn: Any) -> None:
    """Nothing to reset on release: single statements outside transactions leave no session state
    (asyncpg's default reset costs a round trip per statement: advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL)."""


async def _json_codecs(conn: Any) -> None:
    """JSON in and out as Python objects, like SQLAlchemy's JSON type."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

"""How the queue hot path (send, receive, delete) reaches the database.

Every statement is a SQLAlchemy Core statement with named ``bindparam``s, built once (one per
batch size where the batch size changes the statement) and atomic on its own, so no transaction
is needed around it. ``Store.rows(statement, params)`` runs one:

- on PostgreSQL, straight on a connection of the store's own asyncpg pool: the statement is
  compiled once to SQL text and asyncpg keeps it prepared per connection, so a call is one round
  trip with no BEGIN / COMMIT, no SQLAlchemy pool checkout, greenlet or result objects;
- on SQLite, through the engine on an autocommit connection (SQLAlchemy's compiled cache).

Rows are indexed by position on both (asyncpg ``Record`` and SQLAlchemy ``Row``). JSON columns
come back decoded and go in as Python objects on both; datetimes may come back naive on SQLite.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from cumulo.platform import Platform

SERVER_SETTINGS = {"enable_seqscan": "off", "enable_bitmapscan": "off"}
"""Every statement of the store reads a handful of rows through an index (by primary key, or the
oldest visible messages of one queue), so its connections plan nothing else. asyncpg keeps the
statements prepared, and PostgreSQL settles on a generic plan after five executions: planned
while a new table is nearly empty (no statistics until the first ANALYZE), that was a sequential
scan, or a bitmap scan of all of a queue's visible messages plus a sort, which then cost O(backlog)
per statement for as long as the connection lived."""
POOL_SIZE = 16  # connections per API process (8 producers + 8 consumers of the bench each get one)


class Store:
    def __init__(self, platform: Platform):
        self.db = platform.db
        self.pg = platform.db.is_postgres
        self._autocommit = platform.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._compiled: dict[int, tuple[Any, str, tuple[str, ...], dict[str, Any]]] = {}
        self._pool: Any = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._pool_lock = asyncio.Lock()
        platform.closers.append(self.close)

    async def rows(self, statement: Any, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """All rows the statement returns (none for a statement without RETURNING). A constraint
        violation raises SQLAlchemy's ``IntegrityError`` on both databases."""
        if not self.pg:
            async with self._autocommit.connect() as conn:
                result = await conn.execute(statement, params)
                return result.all() if result.returns_rows else ()
        sql, names, fixed = self._sql(statement)
        pool = await self._asyncpg()
        args = [params[name] if name in params else fixed[name] for name in names]
        try:
            return await pool.fetch(sql, *args)  # type: ignore[no-any-return]
        except Exception as exc:
            if isinstance(exc, _integrity_error()):
                raise IntegrityError(sql, None, exc) from exc
            raise

    def _sql(self, statement: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """SQL text, parameter order and the values the statement fixes itself (``LIMIT 3``, ``+ 1``)."""
        found = self._compiled.get(id(statement))
        if found is None or found[0] is not statement:
            compiled = statement.compile(dialect=self.db.engine.dialect)
            found = (statement, str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))
            self._compiled[id(statement)] = found
        return found[1], found[2], found[3]

    async def _asyncpg(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool_loop is loop:
            return self._pool
        async with self._pool_lock:
            if self._pool is None or self._pool_loop is not loop:
                import asyncpg

                dsn = make_url(self.db.url).set(drivername="postgresql").render_as_string(hide_password=False)
                self._pool = await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_SIZE, init=_codecs,
                                                       reset=_keep, server_settings=SERVER_SETTINGS)
                self._pool_loop = loop
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_loop is asyncio.get_running_loop():
            await pool.close()


def _integrity_error() -> type[Exception]:
    import asyncpg

    return asyncpg.IntegrityConstraintViolationError  # type: ignore[no-any-return]


async def _keep(_conn: Any) -> None:
    """Nothing to reset on release: the store's statements leave no session state behind (the
    default reset costs a round trip per statement: advisory unlock, CLOSE ALL, UNLISTEN, RESET)."""


async def _codecs(conn: Any) -> None:
    """JSON in and out as Python objects, like SQLAlchemy's JSON type."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


def store(platform: Platform) -> Store:
    return platform.get_or_create("queues.store", lambda: Store(platform))

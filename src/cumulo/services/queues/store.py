"""How the queue hot path (send, receive, delete) reaches the database.

Every statement is a SQLAlchemy Core statement with named ``bindparam``s, built once (one per
batch size where the batch size changes the statement) and atomic on its own, so no transaction
is needed around it. ``Store.rows(statement, params)`` runs one:

- on PostgreSQL, straight on a connection of the database's asyncpg pool (``Database.asyncpg_pool``,
  shared with the read lane): the statement is compiled once to SQL text and asyncpg keeps it
  prepared per connection, so a call is one round trip with no BEGIN / COMMIT, no SQLAlchemy pool
  checkout, greenlet or result objects;
- on SQLite, through the engine on an autocommit connection (SQLAlchemy's compiled cache).

Rows are indexed by position on both (asyncpg ``Record`` and SQLAlchemy ``Row``). JSON columns
come back decoded and go in as Python objects on both; datetimes may come back naive on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from cumulo.core.errors import InvalidInput
from cumulo.platform import Platform


class Store:
    def __init__(self, platform: Platform):
        self.db = platform.db
        self.pg = platform.db.is_postgres
        self._autocommit = platform.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._compiled: dict[int, tuple[Any, str, tuple[str, ...], dict[str, Any]]] = {}

    async def rows(self, statement: Any, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """All rows the statement returns (none for a statement without RETURNING). A constraint
        violation raises SQLAlchemy's ``IntegrityError`` on both databases."""
        if not self.pg:
            async with self._autocommit.connect() as conn:
                result = await conn.execute(statement, params)
                return result.all() if result.returns_rows else ()
        sql, names, fixed = self._sql(statement)
        pool = await self.db.asyncpg_pool()
        args = [params[name] if name in params else fixed[name] for name in names]
        try:
            return await pool.fetch(sql, *args)  # type: ignore[no-any-return]
        except Exception as exc:
            import asyncpg

            if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
                raise IntegrityError(sql, None, exc) from exc
            if isinstance(exc, asyncpg.DataError):  # a value PostgreSQL cannot store (NUL, out of range)
                raise InvalidInput("input contains a value the database cannot store (a NUL character, "
                                   "or a value too long or out of range)") from exc
            raise

    def _sql(self, statement: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """SQL text, parameter order and the values the statement fixes itself (``LIMIT 3``, ``+ 1``)."""
        found = self._compiled.get(id(statement))
        if found is None or found[0] is not statement:
            compiled = statement.compile(dialect=self.db.engine.dialect)
            found = (statement, str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))
            self._compiled[id(statement)] = found
        return found[1], found[2], found[3]


def store(platform: Platform) -> Store:
    return platform.get_or_create("queues.store", lambda: Store(platform))

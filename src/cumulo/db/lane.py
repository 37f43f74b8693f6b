"""The statement lane: how hot paths run prepared statements (``db/query.py``) on the raw driver,
with no SQLAlchemy session, connection checkout, greenlet or result objects per statement.

``db.lane.rows(query, **params)`` runs one statement, atomic on its own (autocommit), and returns its
rows as tuples. ``db.lane.batch(steps, locks=..., overlap=...)`` runs ``Step``s as one transaction
and returns each step's rows.

- SQLite: reads (``SELECT``) run on a plain ``sqlite3`` connection in the calling thread, i.e. on
  the event loop: *the* exception to "never block the event loop", because a WAL reader never waits
  for writers and a point read takes tens of microseconds, far less than a hop to a thread. Writes
  and batches run on one writer thread with its own connection (SQLite has one writer anyway): one
  thread hop per statement or per batch (``BEGIN IMMEDIATE`` ... ``COMMIT``). A batch's ``overlap``
  is awaited before the hop, so the transaction holds the write lock only for its statements.
- PostgreSQL: the process's asyncpg pool (``Database.asyncpg_pool``; statements stay prepared per
  connection). A batch takes one pooled connection; its ``locks`` are transaction-scoped advisory
  locks taken in hash order (two batches never deadlock; writers of the same names in every process
  take turns); its ``overlap`` (e.g. the blob sync of a storage batch) runs *while* the statements
  run, and the COMMIT is sent only after it returned, so whatever it makes durable is durable before
  the rows that refer to it commit. ``ready()`` is called when only the COMMIT is left.

Errors are the same on both: a unique or foreign-key violation raises SQLAlchemy's
``IntegrityError`` (as a session would), a value the database cannot store ``InvalidInput``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from cumulo.core.errors import InvalidInput
from cumulo.db import sqlite
from cumulo.db.locks import LOCK_NAMES
from cumulo.db.query import Form, Query, Step

if TYPE_CHECKING:
    from cumulo.db.engine import Database

Rows = list[tuple[Any, ...]]


class Lane(Protocol):
    async def rows(self, query: Query, /, **params: Any) -> Rows: ...

    async def batch(self, steps: Sequence[Step], *, locks: Iterable[str] = (),
                    overlap: Awaitable[None] | None = None, ready: Callable[[], None] | None = None) -> list[Rows]: ...

    def close(self) -> None: ...


class SqliteLane:
    def __init__(self, path: str, dialect: Dialect):
        self.path = path
        self.dialect = dialect
        self._readers = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def rows(self, query: Query, /, **params: Any) -> Rows:
        form = query.form(self.dialect)
        if not form.writes:
            return form.rows(self._reader().execute(form.sql, form.args(params)).fetchall())
        return await asyncio.get_running_loop().run_in_executor(self._writer(), self._rows, form, params)

    async def batch(self, steps: Sequence[Step], *, locks: Iterable[str] = (),
                    overlap: Awaitable[None] | None = None, ready: Callable[[], None] | None = None) -> list[Rows]:
        """``locks`` need nothing here: ``BEGIN IMMEDIATE`` holds SQLite's one write lock."""
        if overlap is not None:
            await overlap
        forms = [step.query.form(self.dialect) for step in steps]
        return await asyncio.get_running_loop().run_in_executor(self._writer(), self._batch, steps, forms)

    def _rows(self, form: Form, params: dict[str, Any]) -> Rows:
        try:
            return form.rows(self._connection().execute(form.sql, form.args(params)).fetchall())
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(form.sql, None, exc) from exc

    def _batch(self, steps: Sequence[Step], forms: list[Form]) -> list[Rows]:
        conn = self._connection()
        out: list[Rows] = []
        conn.execute("BEGIN IMMEDIATE")
        form = None
        try:
            for step, form in zip(steps, forms, strict=True):
                if step.many is not None:
                    conn.executemany(form.sql, [form.args(values) for values in step.many])
                    out.append([])
                    continue
                rows = form.rows(conn.execute(form.sql, form.args(step.params)).fetchall())
                if step.check is not None:
                    step.check(rows)
                out.append(rows)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise IntegrityError(form.sql if form else "", None, exc) from exc
            raise
        return out

    def _reader(self) -> sqlite3.Connection:
        """This thread's reader (autocommit: every read sees the latest commit)."""
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            conn = self._readers.conn = sqlite.connect(self.path, "reader")
            self._all.append(conn)
        return conn

    def _writer(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cumulo-db-writer")
        return self._pool

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite.connect(self.path, "writer")
        return self._conn

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._pool is not None:
            with contextlib.suppress(Exception):  # closing anyway
                self._pool.submit(shut).result(timeout=5)
            self._pool.shutdown(wait=False)
            self._pool = None
        for conn in self._all:
            conn.close()
        self._all.clear()
        self._readers = threading.local()


class PgLane:
    def __init__(self, db: Database):
        self.db = db
        self.dialect = db.engine.dialect
        self._lock = LOCK_NAMES.form(self.dialect)

    async def rows(self, query: Query, /, **params: Any) -> Rows:
        form = query.form(self.dialect)
        args = form.args(params)
        pool = await self.db.asyncpg_pool()
        try:
            return form.rows(await pool.fetch(form.sql, *args))
        except Exception as exc:
            _translate(exc, form.sql)
            raise

    async def batch(self, steps: Sequence[Step], *, locks: Iterable[str] = (),
                    overlap: Awaitable[None] | None = None, ready: Callable[[], None] | None = None) -> list[Rows]:
        names = sorted(set(locks))
        pending = asyncio.ensure_future(overlap) if overlap is not None else None
        try:
            pool = await self.db.asyncpg_pool()
            async with pool.acquire() as conn:
                try:
                    async with conn.transaction():
                        if names:
                            await conn.execute(self._lock.sql, *self._lock.args({"names": names}))
                        out = [await self._step(conn, step) for step in steps]
                        if pending is not None:
                            done, pending = pending, None
                            await done  # its error rolls the transaction back
                        if ready is not None:
                            ready()
                finally:
                    if conn.is_in_transaction():  # cancelled during the rollback: never pool an open transaction
                        conn.terminate()
        except Exception as exc:
            _translate(exc, "batch")
            raise
        finally:
            if pending is not None:  # the batch failed first: its error wins, the overlap still ends
                with contextlib.suppress(Exception):
                    await pending
        return out

    async def _step(self, conn: Any, step: Step) -> Rows:
        form = step.query.form(self.dialect)
        if step.many is not None:
            if step.many:
                await conn.executemany(form.sql, [form.args(values) for values in step.many])
            return []
        rows = form.rows(await conn.fetch(form.sql, *form.args(step.params)))
        if step.check is not None:
            step.check(rows)
        return rows

    def close(self) -> None:
        """The pool is the database's (``Database.dispose`` closes it)."""


def _translate(exc: Exception, sql: str) -> None:
    """Raise the database-neutral error for an asyncpg error (returns for any other)."""
    import asyncpg

    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        raise IntegrityError(sql, None, exc) from exc
    if isinstance(exc, asyncpg.DataError):  # a value PostgreSQL cannot store (NUL, out of range)
        raise InvalidInput("input contains a value the database cannot store (a NUL character, "
                           "or a value too long or out of range)") from exc

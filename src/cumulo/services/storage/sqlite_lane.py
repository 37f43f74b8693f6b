"""The write lane of object versions on SQLite: a group-committed batch runs as one transaction on a
plain ``sqlite3`` connection, in one call to the lane's own thread, preceded by the writing (and one
``syncfs``) of the batch's small blobs. aiosqlite would cost two thread
hops per statement (and SQLAlchemy's statement building on the event loop); here a batch costs one
hop in all. SQLite has one writer anyway, so one thread loses nothing.

Values are converted by the columns' own SQLAlchemy bind processors, so rows are stored exactly as
the ORM stores them (datetimes as text, JSON as text, booleans as 0/1)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.dialects import sqlite as sqlite_dialect

from cumulo.drivers.blob import LocalBlobStore
from cumulo.platform import Platform
from cumulo.services.storage.conditions import Guard
from cumulo.services.storage.models import ObjectVersion

_TABLE = ObjectVersion.__table__
_COLUMNS = tuple(c.key for c in _TABLE.columns)
_DIALECT = sqlite_dialect.dialect()
_BINDS: tuple[Callable[[Any], Any] | None, ...] = tuple(c.type._cached_bind_processor(_DIALECT) for c in _TABLE.columns)
_INSERT = f"INSERT INTO {_TABLE.name} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_CURRENT = (f"SELECT etag, is_delete_marker FROM {_TABLE.name} WHERE bucket_id = ? AND key = ? AND is_latest = 1")
MAX_IN = 500  # keys per IN (...) list (SQLite's host-parameter limit is far above)


class Change:
    """What a batch does to one bucket's keys before its rows are inserted."""

    __slots__ = ("bucket_id", "demote", "drop_null", "keys")

    def __init__(self, bucket_id: str, keys: list[str], *, drop_null: bool, demote: bool):
        self.bucket_id, self.keys, self.drop_null, self.demote = bucket_id, keys, drop_null, demote


class SqliteLane:
    def __init__(self, path: str):
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storage-sqlite")
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._conn = conn
        return self._conn

    async def write(self, changes: list[Change], rows: Sequence[ObjectVersion], *,
                    blobs: list[tuple[str, bytes]] | None = None, store: LocalBlobStore | None = None,
                    guards: Sequence[tuple[str, str, Guard]] = ()) -> list[str | None]:
        """Write ``blobs`` and make them durable (``store.write_group_sync``), then apply ``changes``
        and insert ``rows`` in one transaction: one thread call in all. Returns the blob ids of
        removed rows. Raises if any blob could not be written (nothing is committed then).
        ``guards``: (bucket id, key, condition) checked in the transaction first (412 if one fails)."""
        values = [_values(r) for r in rows]
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._write_sync, changes, values,
                                                                blobs, store, guards)

    def _write_sync(self, changes: list[Change], values: list[tuple[Any, ...]], blobs: list[tuple[str, bytes]] | None,
                    store: LocalBlobStore | None, guards: Sequence[tuple[str, str, Guard]] = ()) -> list[str | None]:
        if blobs and store is not None:
            for error in store.write_group_sync(blobs):
                if error is not None:
                    raise error
        conn = self._connection()
        garbage: list[str | None] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for bucket_id, key, guard in guards:
                current = conn.execute(_CURRENT, (bucket_id, key)).fetchone()
                guard.verify(current[0] if current is not None and not current[1] else None)
            for change in changes:
                for start in range(0, len(change.keys), MAX_IN):
                    keys = change.keys[start:start + MAX_IN]
                    marks = ", ".join("?" * len(keys))
                    if change.drop_null:
                        garbage += [r[0] for r in conn.execute(
                            f"DELETE FROM {_TABLE.name} WHERE bucket_id = ? AND key IN ({marks}) "
                            "AND version_id = 'null' RETURNING blob_id", (change.bucket_id, *keys))]
                    if change.demote:
                        conn.execute(f"UPDATE {_TABLE.name} SET is_latest = 0 WHERE bucket_id = ? AND key IN ({marks}) "
                                     "AND is_latest = 1", (change.bucket_id, *keys))
            conn.executemany(_INSERT, values)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return garbage

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        with contextlib.suppress(Exception):  # closing anyway
            self._pool.submit(shut).result(timeout=5)
        self._pool.shutdown(wait=False)


def _values(row: ObjectVersion) -> tuple[Any, ...]:
    out = []
    for name, conv in zip(_COLUMNS, _BINDS, strict=True):
        value = getattr(row, name)
        out.append(conv(value) if conv is not None and value is not None else value)
    return tuple(out)


def lane(platform: Platform) -> SqliteLane | None:
    """The process's write lane, on a file-backed SQLite database (None otherwise)."""
    db = platform.db
    if db.sqlite_path is None:
        return None

    def make() -> SqliteLane:
        made = SqliteLane(db.sqlite_path)  # type: ignore[arg-type]
        platform.closers.append(made.close)
        return made

    return platform.get_or_create("storage.sqlite_lane", make)

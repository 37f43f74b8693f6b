"""The write lane of object versions on PostgreSQL: a group-committed batch runs as one transaction on
a connection of the process's asyncpg pool (no SQLAlchemy statement building, no greenlet per
statement), and its small blobs are written and made durable (one ``syncfs``, in a blob thread)
*while* the transaction's statements run. The COMMIT is sent only after the sync returned, so a blob
is durable before the row that makes it visible commits; until then the rows exist only inside the
open transaction.

A batch then costs max(sync, statements) + COMMIT instead of sync + statements + COMMIT, and the
caller is told (``ready``) when only the COMMIT is left, so the next batch can start its sync while
this one's commit waits for the WAL flush."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from cumulo.drivers.blob import LocalBlobStore
from cumulo.platform import Platform
from cumulo.services.storage.conditions import Guard
from cumulo.services.storage.models import ObjectVersion
from cumulo.services.storage.sqlite_lane import Change

_TABLE = ObjectVersion.__table__
_COLUMNS = tuple(c.key for c in _TABLE.columns)
_INSERT = (f"INSERT INTO {_TABLE.name} ({', '.join(_COLUMNS)}) "
           f"VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))})")
_LOCK = ("SELECT pg_advisory_xact_lock(h) FROM (SELECT hashtextextended(k, 0) AS h "
         "FROM unnest($1::text[]) AS k ORDER BY h) AS ordered")
_DROP_NULL = (f"DELETE FROM {_TABLE.name} WHERE bucket_id = $1 AND key = ANY($2::text[]) "
              "AND version_id = 'null' RETURNING blob_id")
_DEMOTE = f"UPDATE {_TABLE.name} SET is_latest = false WHERE bucket_id = $1 AND key = ANY($2::text[]) AND is_latest"
_CURRENT = f"SELECT etag, is_delete_marker FROM {_TABLE.name} WHERE bucket_id = $1 AND key = $2 AND is_latest"
PARALLEL = 4  # batches in flight at once: one preparing, the others waiting for their COMMIT


class PgLane:
    parallel = PARALLEL

    def __init__(self, platform: Platform):
        self.platform = platform

    async def write(self, changes: list[Change], rows: Sequence[ObjectVersion], *,
                    blobs: list[tuple[str, bytes]] | None = None, store: LocalBlobStore | None = None,
                    ready: Callable[[], None] | None = None,
                    guards: Sequence[tuple[str, str, Guard]] = ()) -> list[str | None]:
        """Write ``blobs`` and make them durable (``store.write_group_sync``) while ``changes`` are
        applied and ``rows`` inserted in one transaction, then commit. Returns the blob ids of
        removed rows. Raises if any blob could not be written (nothing is committed then).
        ``guards``: (bucket id, key, condition) checked after the keys' locks (412 if one fails)."""
        values = [tuple(getattr(r, name) for name in _COLUMNS) for r in rows]
        names = sorted({f"{row.bucket_id}/{row.key}" for row in rows} |
                       {f"{change.bucket_id}/{key}" for change in changes for key in change.keys})
        pool = await self.platform.db.asyncpg_pool()
        async with pool.acquire() as conn:
            try:
                async with conn.transaction():
                    sync = (asyncio.ensure_future(store.run(store.write_group_sync, blobs))
                            if blobs and store is not None else None)
                    try:
                        garbage = await _statements(conn, names, changes, values, guards)
                    finally:
                        errors = await sync if sync is not None else []
                    for error in errors:
                        if error is not None:
                            raise error
                    if ready is not None:
                        ready()
            finally:
                if conn.is_in_transaction():  # cancelled during the rollback: never pool an open transaction
                    conn.terminate()
        return garbage


async def _statements(conn: Any, names: list[str], changes: list[Change],
                      values: list[tuple[Any, ...]], guards: Sequence[tuple[str, str, Guard]] = ()) -> list[str | None]:
    """Writers of the same keys in other processes (and the next batch) wait on the advisory locks,
    taken in hash order so two batches never deadlock; the statements after the lock see their
    commits (READ COMMITTED: a snapshot per statement)."""
    await conn.execute(_LOCK, names)
    for bucket_id, key, guard in guards:
        current = await conn.fetchrow(_CURRENT, bucket_id, key)
        guard.verify(current[0] if current is not None and not current[1] else None)
    garbage: list[str | None] = []
    for change in changes:
        if change.drop_null:
            garbage += [r[0] for r in await conn.fetch(_DROP_NULL, change.bucket_id, change.keys)]
        if change.demote:
            await conn.execute(_DEMOTE, change.bucket_id, change.keys)
    if values:
        await conn.executemany(_INSERT, values)
    return garbage


def lane(platform: Platform) -> PgLane | None:
    """The process's write lane on PostgreSQL (None on SQLite)."""
    if not platform.db.is_postgres:
        return None
    return platform.get_or_create("storage.pg_lane", lambda: PgLane(platform))

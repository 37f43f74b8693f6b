"""Recording object versions: the one write path behind PUT, copy, multipart completion and delete
markers.

Writes are group-committed: requests that arrive while a transaction is running queue up and go
together in the next one, as a few set-based statements (one DELETE/UPDATE per bucket, one multi-row
INSERT, one COMMIT) instead of three statements and a commit each. SQLite allows one writer anyway;
on PostgreSQL, writers of the same keys in other processes take turns on advisory locks. If a batch
fails, its writes are retried one by one so one bad write fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import utcnow
from cumulo.core.errors import Unavailable
from cumulo.drivers.blob import LocalBlobStore
from cumulo.drivers.blob.local import random_hex
from cumulo.platform import Platform
from cumulo.services.storage import pg_lane, sqlite_lane
from cumulo.services.storage.conditions import Guard
from cumulo.services.storage.errors import S3Error, no_such_bucket
from cumulo.services.storage.models import Bucket, ObjectVersion

MAX_BATCH = 256
log = logging.getLogger("cumulo.storage")
_seq_state = {"last": 0}


def blob_store(platform: Platform) -> LocalBlobStore:
    return platform.drivers.blob


def write_lock(platform: Platform) -> contextlib.AbstractAsyncContextManager[Any]:
    """SQLite has one writer: storage transactions queue here instead of colliding in SQLite's
    busy handler (which sleeps and backs off). PostgreSQL needs no such lock."""
    if platform.db.is_postgres:
        return contextlib.nullcontext()
    return platform.get_or_create("storage.sqlite_write_lock", asyncio.Lock)


def next_seq() -> int:
    now = time.time_ns()
    _seq_state["last"] = now if now > _seq_state["last"] else _seq_state["last"] + 1
    return _seq_state["last"]


def new_version_id() -> str:
    return random_hex()


def new_row_id() -> str:
    """A version-4 UUID string like ``core.ids.new_id``, without its ``os.urandom`` call (see
    ``random_hex``): one per written version."""
    h = random_hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


async def record_version(platform: Platform, bucket: Bucket, key: str, *, blob_id: str | None, size: int,
                         etag: str, content_type: str, meta: dict[str, Any],
                         delete_marker: bool = False, small: bytes | None = None,
                         guard: Guard | None = None) -> ObjectVersion:
    """Make a new version the latest one, atomically; blobs it replaces are removed after the commit.
    On failure the new blob is removed, so nothing is left half-created (a caller cancelled while its
    write is in flight leaves the blob: an unreferenced file is better than a row without bytes).

    ``small``: the bytes of blob ``blob_id``, not yet on disk. On a write lane they are written and
    made durable (one ``syncfs`` for the batch) with the batch: on SQLite in the same thread call,
    just before the transaction; on PostgreSQL while the transaction's statements run, before its
    COMMIT. Elsewhere (in-memory SQLite) they are group-committed first.

    ``guard``: a condition on the key's current version (``If-Match``/``If-None-Match``), checked in
    the writing transaction after the key's lock; such a write goes in a batch of its own."""
    if small is not None and _lane(platform) is None:
        assert blob_id is not None
        await _put_small(platform, blob_id, small)
        small = None
    item = Pending(bucket, key, {"blob_id": blob_id, "size": size, "etag": etag, "content_type": content_type,
                                 "meta": meta, "delete_marker": delete_marker, "small": small,
                                 "guard": guard})
    try:
        row, garbage = await _batcher(platform).submit(item)
    except asyncio.CancelledError:
        raise
    except BaseException:
        await blob_store(platform).delete(blob_id)
        raise
    await blob_store(platform).delete(*garbage)
    return row


async def _write_one(platform: Platform, item: Pending) -> tuple[ObjectVersion, list[str | None]]:
    bucket, key, f = item.bucket, item.key, item.fields
    blob_id, size, etag, content_type, meta, delete_marker = (f["blob_id"], f["size"], f["etag"], f["content_type"],
                                                              f["meta"], f["delete_marker"])
    for attempt in range(5):
        async with write_lock(platform), platform.db.session() as session:
            try:
                row, garbage = await _insert_version(session, bucket, key, blob_id=blob_id, size=size, etag=etag,
                                                     content_type=content_type, meta=meta,
                                                     delete_marker=delete_marker, guard=f.get("guard"))
                await session.commit()
            except IntegrityError:  # a concurrent writer made its version latest first: retry on top of it
                await session.rollback()
                if await session.get(Bucket, bucket.id) is None:  # or the bucket was deleted meanwhile
                    raise no_such_bucket(bucket.name) from None
                await asyncio.sleep(0.005 * (attempt + 1))
                continue
        return row, garbage
    raise S3Error("OperationAborted", "too many concurrent writes to this key; retry", 409)


async def _insert_version(session: AsyncSession, bucket: Bucket, key: str, *, blob_id: str | None, size: int,
                          etag: str, content_type: str, meta: dict[str, Any],
                          delete_marker: bool, guard: Guard | None = None) -> tuple[ObjectVersion, list[str | None]]:
    """Core statements (no unit of work): this is the hot path of every write."""
    garbage: list[str | None] = []
    same_key = (ObjectVersion.bucket_id == bucket.id, ObjectVersion.key == key)
    if session.get_bind().dialect.name == "postgresql":  # writers of one key take turns (SQLite has one writer)
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                              {"k": f"{bucket.id}/{key}"})
    if guard is not None:
        current = (await session.execute(select(ObjectVersion.etag, ObjectVersion.is_delete_marker).where(
            *same_key, ObjectVersion.is_latest.is_(True)))).first()
        guard.verify(current[0] if current is not None and not current[1] else None)
    if bucket.versioning == "Enabled":
        version_id = new_version_id()
    else:  # unversioned or suspended: the "null" version is replaced
        version_id = "null"
        result = await session.execute(delete(ObjectVersion).where(*same_key, ObjectVersion.version_id == "null")
                                       .returning(ObjectVersion.blob_id), execution_options={"synchronize_session": False})
        garbage = list(result.scalars().all())
    if bucket.versioning:
        await session.execute(update(ObjectVersion).where(*same_key, ObjectVersion.is_latest.is_(True))
                              .values(is_latest=False), execution_options={"synchronize_session": False})
    row = _new_row(Pending(bucket, key, {"blob_id": blob_id, "size": size, "etag": etag,
                                         "content_type": content_type, "meta": meta, "delete_marker": delete_marker}))
    row.version_id = version_id
    await session.execute(insert(ObjectVersion).values(_values(row)))
    return row, garbage


@dataclass
class Pending:
    bucket: Bucket
    key: str
    fields: dict[str, Any]
    future: asyncio.Future[tuple[ObjectVersion, list[str | None]]] | None = field(default=None)


class Batcher:
    """Group commit (see the module docstring). One batch is prepared at a time; on PostgreSQL the
    next one starts as soon as the previous one only waits for its COMMIT (up to the lane's
    ``parallel`` batches in flight), elsewhere when it is done."""

    def __init__(self, platform: Platform):
        self.platform = platform
        self.queue: list[Pending] = []
        self.preparing = False
        self.inflight = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Pending) -> tuple[ObjectVersion, list[str | None]]:
        item.future = asyncio.get_running_loop().create_future()
        self.queue.append(item)
        self._kick()
        return await asyncio.shield(item.future)

    def _kick(self) -> None:
        fast = _lane(self.platform)
        if self.queue and not self.preparing and self.inflight < getattr(fast, "parallel", 1):
            self.preparing = True
            self.inflight += 1
            cut = _cut(self.queue)
            batch, self.queue = self.queue[:cut], self.queue[cut:]
            task = asyncio.create_task(self._run(fast, batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _run(self, fast: Any, batch: list[Pending]) -> None:
        released = False

        def ready() -> None:  # this batch only waits for its commit now: the next one may start
            nonlocal released
            if not released:
                released, self.preparing = True, False
                self._kick()

        try:
            await self._settle_batch(fast, batch, ready)
        finally:
            self.inflight -= 1
            ready()
            self._kick()

    async def _settle_batch(self, fast: Any, batch: list[Pending], ready: Callable[[], None]) -> None:
        try:
            if fast is not None:
                results = await self._write_lane(fast, batch, ready)
            else:
                results = await self._write(batch) if len(batch) > 1 else [await _write_one(self.platform, batch[0])]
        except Exception as exc:
            ready()
            if isinstance(exc, S3Error) and len(batch) == 1:  # a write alone (failed its condition): its answer
                _settle(batch[0], error=exc)
                return
            log.warning("storage: a batch of %d writes failed; retrying them one by one", len(batch),
                        exc_info=True)
            for item in batch:
                try:
                    if item.fields.get("small") is not None:
                        await _put_small(self.platform, item.fields["blob_id"], item.fields["small"])
                    _settle(item, result=await _write_one(self.platform, item))
                except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                    _settle(item, error=exc)
            return
        for item, result in zip(batch, results, strict=True):
            _settle(item, result=result)

    async def _write_lane(self, fast: sqlite_lane.SqliteLane | pg_lane.PgLane, batch: list[Pending],
                          ready: Callable[[], None]) -> list[tuple[ObjectVersion, list[str | None]]]:
        """The batch as one transaction on the database's write lane (SQLite: one thread hop in all;
        PostgreSQL: blobs synced while the statements run, the commit after)."""
        last: dict[tuple[str, str], int] = {}
        by_bucket: dict[str, tuple[Bucket, list[str]]] = {}
        for i, item in enumerate(batch):
            if (item.bucket.id, item.key) not in last:
                by_bucket.setdefault(item.bucket.id, (item.bucket, []))[1].append(item.key)
            last[(item.bucket.id, item.key)] = i
        changes = [sqlite_lane.Change(bucket.id, sorted(keys), drop_null=bucket.versioning != "Enabled",
                                      demote=bool(bucket.versioning)) for bucket, keys in by_bucket.values()]
        results, rows = _plan(batch, last)
        smalls = [(item.fields["blob_id"], item.fields["small"]) for item in batch if item.fields.get("small") is not None]
        guards = [(item.bucket.id, item.key, item.fields["guard"]) for item in batch if item.fields.get("guard")]
        async with write_lock(self.platform):
            if isinstance(fast, pg_lane.PgLane):
                garbage = await fast.write(changes, rows, blobs=smalls, store=blob_store(self.platform), ready=ready,
                                           guards=guards)
            else:
                garbage = await fast.write(changes, rows, blobs=smalls, store=blob_store(self.platform),
                                           guards=guards)
        if results:  # the replaced blobs are removed by the first request of the batch
            results[0] = (results[0][0], results[0][1] + garbage)
        return results

    async def _write(self, batch: list[Pending]) -> list[tuple[ObjectVersion, list[str | None]]]:
        """The batch through a session: only without a write lane (an in-memory SQLite database)."""
        last: dict[tuple[str, str], int] = {}
        for i, item in enumerate(batch):
            last[(item.bucket.id, item.key)] = i
        results: list[tuple[ObjectVersion, list[str | None]]] = []
        async with write_lock(self.platform), self.platform.db.session() as session:
            by_bucket: dict[str, tuple[Bucket, set[str]]] = {}
            for item in batch:
                by_bucket.setdefault(item.bucket.id, (item.bucket, set()))[1].add(item.key)
            garbage: list[str | None] = []
            for bucket, keys in by_bucket.values():
                where = (ObjectVersion.bucket_id == bucket.id, ObjectVersion.key.in_(sorted(keys)))
                if bucket.versioning != "Enabled":
                    result = await session.execute(
                        delete(ObjectVersion).where(*where, ObjectVersion.version_id == "null")
                        .returning(ObjectVersion.blob_id), execution_options={"synchronize_session": False})
                    garbage += result.scalars().all()
                if bucket.versioning:
                    await session.execute(update(ObjectVersion).where(*where, ObjectVersion.is_latest.is_(True))
                                          .values(is_latest=False), execution_options={"synchronize_session": False})
            results, rows = _plan(batch, last)
            await session.execute(insert(ObjectVersion), [_values(r) for r in rows])
            await session.commit()
        if results:  # the replaced blobs are removed by the first request of the batch
            results[0] = (results[0][0], results[0][1] + garbage)
        return results


def _cut(queue: list[Pending]) -> int:
    """How many queued writes go in the next batch: up to ``MAX_BATCH``, and a conditional write
    alone (its check must see every write queued before it, and fail alone)."""
    for i, item in enumerate(queue):
        if i == MAX_BATCH or item.fields.get("guard") is not None:
            return max(i, 1)
    return len(queue)


async def _put_small(platform: Platform, blob_id: str, data: bytes) -> None:
    try:
        await blob_store(platform).put_small(blob_id, data)
    except OSError as exc:
        raise Unavailable(f"blob store cannot write: {exc.strerror}") from None


def _plan(batch: list[Pending], last: dict[tuple[str, str], int]) -> tuple[
        list[tuple[ObjectVersion, list[str | None]]], list[ObjectVersion]]:
    """The new rows of a batch (the last write of a key is its latest) and what each request gets back."""
    results: list[tuple[ObjectVersion, list[str | None]]] = []
    rows = []
    for i, item in enumerate(batch):
        newest = last[(item.bucket.id, item.key)] == i
        row = _new_row(item, is_latest=newest)
        item_garbage: list[str | None] = []
        if item.bucket.versioning != "Enabled" and not newest:
            item_garbage.append(row.blob_id)  # replaced within this same batch: never stored
        else:
            rows.append(row)
        results.append((row, item_garbage))
    return results, rows


def _settle(item: Pending, *, result: Any = None, error: BaseException | None = None) -> None:
    assert item.future is not None
    if item.future.done():
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(result)


def _lane(platform: Platform) -> sqlite_lane.SqliteLane | pg_lane.PgLane | None:
    return sqlite_lane.lane(platform) or pg_lane.lane(platform)


def _batcher(platform: Platform) -> Batcher:
    return platform.get_or_create("storage.version_batcher", lambda: Batcher(platform))


def _new_row(item: Pending, *, is_latest: bool = True) -> ObjectVersion:
    f = item.fields
    version_id = new_version_id() if item.bucket.versioning == "Enabled" else "null"
    return ObjectVersion(id=new_row_id(), bucket_id=item.bucket.id, key=item.key, version_id=version_id, seq=next_seq(),
                         is_latest=is_latest, is_delete_marker=f["delete_marker"], size=f["size"], etag=f["etag"],
                         content_type=f["content_type"], meta=f["meta"], blob_id=f["blob_id"], created_at=utcnow())


def _values(row: ObjectVersion) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in ObjectVersion.__table__.columns}

"""Recording object versions: the one write path behind PUT, copy, multipart completion and delete
markers.

Writes are group-committed: requests that arrive while a transaction is running queue up and go
together in the next one, as a few set-based statements (one DELETE/UPDATE per bucket, one multi-row
INSERT, one COMMIT) instead of three statements and a commit each. A batch is one
``db.lane.batch`` (``statements.py`` has its SQL): on SQLite one hop to the database's writer thread;
on PostgreSQL one pooled connection, where writers of the same keys in other processes take turns on
advisory locks, and the batch's small blobs are written and synced *while* its statements run (the
COMMIT waits for the sync). If a batch fails, its writes are retried one by one (each a batch of
one) so one bad write fails alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError

from cumulo.core.clock import utcnow
from cumulo.core.errors import Unavailable
from cumulo.db.query import Step
from cumulo.drivers.blob import LocalBlobStore
from cumulo.drivers.blob.local import random_hex
from cumulo.platform import Platform
from cumulo.services.storage import locking
from cumulo.services.storage import statements as sql
from cumulo.services.storage.conditions import Guard
from cumulo.services.storage.errors import S3Error, no_such_bucket
from cumulo.services.storage.models import Bucket, ObjectVersion

MAX_BATCH = 256
PARALLEL = 4  # PostgreSQL: batches in flight at once, one preparing, the others waiting for their COMMIT
log = logging.getLogger("cumulo.storage")
_seq_state = {"last": 0}


def blob_store(platform: Platform) -> LocalBlobStore:
    return platform.drivers.blob


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
                         guard: Guard | None = None, lock: locking.Lock | None = None) -> ObjectVersion:
    """Make a new version the latest one, atomically; blobs it replaces are removed after the commit.
    On failure the new blob is removed, so nothing is left half-created (a caller cancelled while its
    write is in flight leaves the blob: an unreferenced file is better than a row without bytes).

    ``small``: the bytes of blob ``blob_id``, not yet on disk. They are written and made durable
    (one ``syncfs`` for the batch) with the batch: on SQLite just before its transaction; on
    PostgreSQL while the transaction's statements run, before its COMMIT.

    ``guard``: a condition on the key's current version (``If-Match``/``If-None-Match``), checked in
    the writing transaction after the key's lock; such a write goes in a batch of its own.

    ``lock``: the Object Lock the version asks for (``x-amz-object-lock-*``); on a lock-enabled bucket
    a version that asks for no retention gets the bucket's default one."""
    item = Pending(bucket, key, {"blob_id": blob_id, "size": size, "etag": etag, "content_type": content_type,
                                 "meta": meta, "delete_marker": delete_marker, "small": small,
                                 "guard": guard, "lock": lock})
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
    """A write alone (a batch of one), retried on top of a concurrent writer's version."""
    for attempt in range(5):
        try:
            return (await _write(platform, [item]))[0]
        except IntegrityError:  # a concurrent writer made its version latest first: retry on top of it
            async with platform.db.session() as session:
                if await session.get(Bucket, item.bucket.id) is None:  # or the bucket was deleted meanwhile
                    raise no_such_bucket(item.bucket.name) from None
            await asyncio.sleep(0.005 * (attempt + 1))
    raise S3Error("OperationAborted", "too many concurrent writes to this key; retry", 409)


async def _write(platform: Platform, batch: list[Pending], ready: Callable[[], None] | None = None
                 ) -> list[tuple[ObjectVersion, list[str | None]]]:
    """The batch as one transaction of the statement lane: the guards' checks, per bucket the null
    versions dropped and the latest demoted, the new rows inserted; the small blobs synced meanwhile
    (PostgreSQL) or just before (SQLite)."""
    last: dict[tuple[str, str], int] = {}
    by_bucket: dict[str, tuple[Bucket, list[str]]] = {}
    for i, item in enumerate(batch):
        if (item.bucket.id, item.key) not in last:
            by_bucket.setdefault(item.bucket.id, (item.bucket, []))[1].append(item.key)
        last[(item.bucket.id, item.key)] = i
    steps = [Step(sql.CURRENT, {"bucket_id": item.bucket.id, "key": item.key}, check=_verify(item.fields["guard"]))
             for item in batch if item.fields.get("guard") is not None]
    dropping: list[int] = []  # the steps whose rows are blob ids to remove
    for bucket, keys in by_bucket.values():
        where = {"bucket_id": bucket.id, "keys": sorted(keys)}
        if bucket.versioning != "Enabled":
            dropping.append(len(steps))
            steps.append(Step(sql.DROP_NULL, where))
        if bucket.versioning:
            steps.append(Step(sql.DEMOTE, where))
    results, rows = _plan(batch, last)
    steps.append(Step(sql.INSERT_VERSION, many=[sql.version_values(r) for r in rows]))
    smalls = [(item.fields["blob_id"], item.fields["small"]) for item in batch if item.fields.get("small") is not None]
    overlap = _write_blobs(blob_store(platform), smalls) if smalls else None
    out = await platform.db.lane.batch(steps, locks=[f"{bucket_id}/{key}" for bucket_id, key in last],
                                       overlap=overlap, ready=ready)
    garbage = [r[0] for i in dropping for r in out[i]]
    if results:  # the replaced blobs are removed by the first request of the batch
        results[0] = (results[0][0], results[0][1] + garbage)
    return results


def _verify(guard: Guard) -> Callable[[list[tuple[Any, ...]]], None]:
    """The check of ``CURRENT``'s rows against a write's condition (412 if it fails)."""
    return lambda rows: guard.verify(rows[0][0] if rows and not rows[0][1] else None)


async def _write_blobs(store: LocalBlobStore, blobs: list[tuple[str, bytes]]) -> None:
    """Write small blobs and make them durable (one ``syncfs``), on the blob store's thread."""
    try:
        errors = await store.run(store.write_group_sync, blobs)
    except OSError as exc:
        errors = [exc]
    for error in errors:
        if error is not None:
            raise Unavailable(f"blob store cannot write: {getattr(error, 'strerror', None) or error}") from error


@dataclass
class Pending:
    bucket: Bucket
    key: str
    fields: dict[str, Any]
    future: asyncio.Future[tuple[ObjectVersion, list[str | None]]] | None = field(default=None)


class Batcher:
    """Group commit (see the module docstring). One batch is prepared at a time; on PostgreSQL the
    next one starts as soon as the previous one only waits for its COMMIT (up to ``PARALLEL``
    batches in flight), on SQLite when it is done."""

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
        parallel = PARALLEL if self.platform.db.is_postgres else 1
        if self.queue and not self.preparing and self.inflight < parallel:
            self.preparing = True
            self.inflight += 1
            cut = _cut(self.queue)
            batch, self.queue = self.queue[:cut], self.queue[cut:]
            task = asyncio.create_task(self._run(batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _run(self, batch: list[Pending]) -> None:
        released = False

        def ready() -> None:  # this batch only waits for its commit now: the next one may start
            nonlocal released
            if not released:
                released, self.preparing = True, False
                self._kick()

        try:
            await self._settle_batch(batch, ready)
        finally:
            self.inflight -= 1
            ready()
            self._kick()

    async def _settle_batch(self, batch: list[Pending], ready: Callable[[], None]) -> None:
        try:
            results = await _write(self.platform, batch, ready)
        except Exception as exc:
            ready()
            if isinstance(exc, S3Error) and len(batch) == 1:  # a write alone (failed its condition): its answer
                _settle(batch[0], error=exc)
                return
            log.warning("storage: a batch of %d writes failed; retrying them one by one", len(batch),
                        exc_info=True)
            for item in batch:
                try:
                    _settle(item, result=await _write_one(self.platform, item))
                except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                    _settle(item, error=exc)
            return
        for item, result in zip(batch, results, strict=True):
            _settle(item, result=result)


def _cut(queue: list[Pending]) -> int:
    """How many queued writes go in the next batch: up to ``MAX_BATCH``, and a conditional write
    alone (its check must see every write queued before it, and fail alone)."""
    for i, item in enumerate(queue):
        if i == MAX_BATCH or item.fields.get("guard") is not None:
            return max(i, 1)
    return len(queue)


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


def _batcher(platform: Platform) -> Batcher:
    return platform.get_or_create("storage.version_batcher", lambda: Batcher(platform))


def _new_row(item: Pending, *, is_latest: bool = True) -> ObjectVersion:
    f = item.fields
    version_id = new_version_id() if item.bucket.versioning == "Enabled" else "null"
    now = utcnow()
    lock = locking.Lock() if f["delete_marker"] else locking.for_new_version(item.bucket, f.get("lock"), now)
    return ObjectVersion(id=new_row_id(), bucket_id=item.bucket.id, key=item.key, version_id=version_id, seq=next_seq(),
                         is_latest=is_latest, is_delete_marker=f["delete_marker"], size=f["size"], etag=f["etag"],
                         content_type=f["content_type"], meta=f["meta"], blob_id=f["blob_id"], created_at=now,
                         lock_mode=lock.mode, lock_until=lock.until, legal_hold=lock.hold)


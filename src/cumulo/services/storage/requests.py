"""S3 requests, counted for billing as S3 prices them: per 1,000, in two classes, billed to the
bucket's owner (as on S3, whoever sends them):

- ``put``: PUT, COPY, POST and LIST (ListObjects/V2, ListObjectVersions, ListMultipartUploads,
  ListParts), the dearer class;
- ``get``: GET, HEAD and the other reads (a bucket's configuration, an object's tags or ACL ...);
- free: DELETE (DeleteObject, DeleteObjects, AbortMultipartUpload), CORS preflights, requests
  refused 403 (unauthorised, as S3 no longer bills them to the owner) and server errors (5xx).
  Requests that name no bucket (ListBuckets, CreateBucket) are not billed.

The request path never writes for it: each process counts in memory (a dict entry per bucket),
and every ``FLUSH_SECONDS`` adds its counts to the bucket's row of the current minute
(``storage_request_usage``, one upsert for every bucket seen: at most one row per bucket and minute,
whatever the traffic; several processes add to the same row). The platform's close flushes what is left,
so a clean shutdown loses nothing; a crash loses at most the last ``FLUSH_SECONDS``. A failed write
keeps the counts for the next flush.

Billing reads them through ``cumulo.ports.usage`` (``hooks.consumed``): the minutes that ended in its
window, so a minute is billed once it is over (plus the meter's settle time, which covers the last
flush of the minute: keep ``CUMULO_BILLING_SETTLE_SECONDS`` above a few seconds), as functions'
invocations are."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import utcnow
from cumulo.platform import Platform
from cumulo.services.storage import statements
from cumulo.services.storage.models import RequestUsage

FLUSH_SECONDS = 5.0
KEEP = dt.timedelta(days=35)  # rows older than this are removed (billed long before)
PERIOD = dt.timedelta(minutes=1)  # the rows' span
KEY = "storage.requests"
log = logging.getLogger("cumulo.storage")

# GETs on a bucket that read one of its settings (GET class); any other GET on a bucket lists it
BUCKET_READS = frozenset({"versioning", "policy", "cors", "tagging", "publicAccessBlock", "ownershipControls",
                          "lifecycle", "object-lock", "location", "acl", "policyStatus"})


def price_class(method: str, key: str | None, params: Mapping[str, str]) -> str | None:
    """``put``, ``get`` or None (free) for a request on a bucket (``key`` None) or an object."""
    if method in ("DELETE", "OPTIONS") or (method == "POST" and "delete" in params):
        return None
    if method in ("PUT", "POST"):
        return "put"
    if method == "GET" and ((key is None and not BUCKET_READS.intersection(params)) or
                            (key is not None and "uploadId" in params)):
        return "put"  # ListObjects, ListObjectVersions, ListMultipartUploads; ListParts
    return "get"


def billed(status: int) -> bool:
    """Whether an answer is billed: not a refusal for want of rights (403), not our failure (5xx)."""
    return status != 403 and status < 500


@dataclass
class Tally:
    """One process's counts not yet written: bucket id -> [owner, bucket name, put, get]."""

    counts: dict[str, list[Any]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event | None = None
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one flush at a time: a flush returns once
    # everything counted before it is written


def _tally(platform: Platform) -> Tally:
    tally = platform.extras.get(KEY)
    if tally is None:
        tally = platform.extras[KEY] = Tally()

        async def close() -> None:
            await _close(platform, tally)

        platform.closers.append(close)
    return tally


def count(platform: Platform, bucket: Any, method: str, key: str | None, params: Mapping[str, str]) -> None:
    """Count one answered request on ``bucket`` (its row: ``id``, ``user_id``, ``name``): a dict update."""
    cls = price_class(method, key, params)
    if cls is None:
        return
    tally = _tally(platform)
    entry = tally.counts.get(bucket.id)
    if entry is None:
        entry = tally.counts[bucket.id] = [bucket.user_id, bucket.name, 0, 0]
    entry[2 if cls == "put" else 3] += 1
    if tally.task is None and not tally.closed:
        tally.stop = asyncio.Event()
        tally.task = asyncio.get_running_loop().create_task(_every(platform, tally, tally.stop))


async def _every(platform: Platform, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), FLUSH_SECONDS)
        except TimeoutError:
            pass
        try:
            await flush(platform)
        except Exception as exc:  # noqa: BLE001 (the database away: kept for the next flush)
            log.warning("S3 request counts not written yet (%d buckets): %s", len(tally.counts), exc)


async def _close(platform: Platform, tally: Tally) -> None:
    """At the platform's close: stop the loop after one last flush (or flush here if none ran)."""
    tally.closed = True
    if tally.task is not None and tally.stop is not None:
        tally.stop.set()
        await tally.task
        tally.task = None
    if tally.counts:
        await flush(platform)


async def flush(platform: Platform) -> int:
    """Add this process's counts to the rows of the current minute; how many buckets were written."""
    tally = _tally(platform)
    async with tally.lock:
        return await _write(platform, tally)


async def _write(platform: Platform, tally: Tally) -> int:
    if not tally.counts:
        return 0
    counts, tally.counts = tally.counts, {}
    minute = utcnow().replace(second=0, microsecond=0)
    rows = [{"bucket_id": bid, "minute": minute, "user_id": user_id, "bucket_name": name, "put_requests": put,
             "get_requests": get} for bid, (user_id, name, put, get) in counts.items()]
    try:
        async with platform.db.session() as session:
            await session.execute(statements.add_requests(platform.db.dialect), rows)
            await session.commit()
    except BaseException:
        for bid, (user_id, name, put, get) in counts.items():  # back, for the next flush
            entry = tally.counts.setdefault(bid, [user_id, name, 0, 0])
            entry[2] += put
            entry[3] += get
        raise
    return len(rows)


async def ended_in(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str, str, int, int]]:
    """(bucket id, owner, bucket name, put, get) of the minutes that ended in [start, end)."""
    r = RequestUsage
    rows = await session.execute(
        select(r.bucket_id, r.user_id, func.max(r.bucket_name), func.sum(r.put_requests), func.sum(r.get_requests))
        .where(r.minute >= start - PERIOD, r.minute < end - PERIOD).group_by(r.bucket_id, r.user_id))
    return [(bid, user_id, name, int(put or 0), int(get or 0)) for bid, user_id, name, put, get in rows.all()]


async def prune(platform: Platform) -> int:
    """Remove the rows older than ``KEEP``; how many."""
    async with platform.db.session() as session:
        result = await session.execute(delete(RequestUsage).where(RequestUsage.minute < utcnow() - KEEP))
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)

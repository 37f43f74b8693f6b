"""Lifecycle rules executed: a pass (every ``CUMULO_S3_LIFECYCLE_INTERVAL_SECONDS``) over the
buckets that have rules. Per enabled rule, for the objects its filter matches (prefix, tags, size):

- ``Expiration`` by ``Days`` (counted as S3 does: the object expires at the first midnight UTC at
  least that many days after its creation) or ``Date``: the current version is deleted (a delete
  marker on a versioned bucket);
- ``ExpiredObjectDeleteMarker``: a delete marker with no other version left is removed;
- ``NoncurrentVersionExpiration``: versions that have been noncurrent ``NoncurrentDays`` (since the
  next version was written), beyond the ``NewerNoncurrentVersions`` newest, are removed;
- ``AbortIncompleteMultipartUpload``: uploads begun ``DaysAfterInitiation`` days ago are aborted.

``now`` is a parameter, so tests run a pass at any date (a test clock)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import select

from cumulo.core.clock import aware, utcnow
from cumulo.platform import Platform
from cumulo.services.storage import locking, multipart, objects
from cumulo.services.storage.models import Bucket, ObjectVersion, Upload

BATCH = 1000


def _midnight(value: dt.datetime) -> dt.datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _expired(created: dt.datetime, days: int, now: dt.datetime) -> bool:
    """S3: expiry is the creation time plus ``days``, rounded up to the next midnight UTC."""
    return aware(created) <= _midnight(now) - dt.timedelta(days=days)


def matches(rule: dict[str, Any], key: str, size: int, tags: dict[str, str]) -> bool:
    if not key.startswith(rule["prefix"]):
        return False
    if any(tags.get(k) != v for k, v in rule["tags"].items()):
        return False
    if rule["gt"] is not None and not size > rule["gt"]:
        return False
    return rule["lt"] is None or size < rule["lt"]


async def run(platform: Platform, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass over every bucket with rules; returns what it did, by action."""
    now = now or utcnow()
    async with platform.db.session() as session:
        ids = list((await session.scalars(select(Bucket.id).where(Bucket.lifecycle.is_not(None)))).all())
    done = {"expired": 0, "markers": 0, "noncurrent": 0, "aborted": 0}
    for bucket_id in ids:
        async with platform.db.session() as session:
            bucket = await session.get(Bucket, bucket_id)
        if bucket is not None and bucket.lifecycle:
            for name, count in (await apply(platform, bucket, now)).items():
                done[name] += count
    return done


async def apply(platform: Platform, bucket: Bucket, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or utcnow()
    done = {"expired": 0, "markers": 0, "noncurrent": 0, "aborted": 0}
    for rule in bucket.lifecycle or []:
        if rule["status"] != "Enabled":
            continue
        if rule["days"] is not None or (rule["date"] and now >= dt.datetime.fromisoformat(rule["date"])):
            done["expired"] += await _expire_current(platform, bucket, rule, now)
        if rule["marker"] or rule["noncurrent_days"] is not None:
            markers, noncurrent = await _versions(platform, bucket, rule, now)
            done["markers"] += markers
            done["noncurrent"] += noncurrent
        if rule["abort_days"] is not None:
            done["aborted"] += await _abort_uploads(platform, bucket, rule, now)
    return done


def _under(query: Any, column: Any, prefix: str) -> Any:
    return query.where(column.startswith(prefix, autoescape=True)) if prefix else query


async def _expire_current(platform: Platform, bucket: Bucket, rule: dict[str, Any], now: dt.datetime) -> int:
    query = select(ObjectVersion.key, ObjectVersion.size, ObjectVersion.meta, ObjectVersion.created_at).where(
        ObjectVersion.bucket_id == bucket.id, ObjectVersion.is_latest.is_(True),
        ObjectVersion.is_delete_marker.is_(False))
    if rule["days"] is not None:
        query = query.where(ObjectVersion.created_at <= _midnight(now) - dt.timedelta(days=rule["days"]))
    async with platform.db.session() as session:
        rows = (await session.execute(_under(query, ObjectVersion.key, rule["prefix"]).limit(BATCH))).all()
    count = 0
    for key, size, meta, _created in rows:
        if matches(rule, key, size, (meta or {}).get("tags", {})):
            await objects.delete_object(platform, bucket, key)
            count += 1
    return count


async def _versions(platform: Platform, bucket: Bucket, rule: dict[str, Any], now: dt.datetime) -> tuple[int, int]:
    """Noncurrent versions and lone delete markers, key by key (pages of whole keys)."""
    markers = noncurrent = 0
    after: str | None = None
    while True:
        query = select(ObjectVersion).where(ObjectVersion.bucket_id == bucket.id) \
            .order_by(ObjectVersion.key, ObjectVersion.seq.desc()).limit(BATCH)
        if after is not None:
            query = query.where(ObjectVersion.key > after)
        async with platform.db.session() as session:
            rows = list((await session.scalars(_under(query, ObjectVersion.key, rule["prefix"]))).all())
        by_key: dict[str, list[ObjectVersion]] = {}
        for row in rows:
            by_key.setdefault(row.key, []).append(row)
        full = len(rows) == BATCH
        if full and len(by_key) > 1:
            by_key.pop(rows[-1].key)  # maybe cut off: read again from its start next page
        for key, versions in by_key.items():
            removed = await _noncurrent(platform, bucket, rule, key, versions, now)
            noncurrent += removed
            if rule["marker"] and versions[0].is_delete_marker and len(versions) - removed == 1:
                await objects.delete_object(platform, bucket, key, versions[0].version_id)
                markers += 1
        if not full:
            return markers, noncurrent
        after = max(by_key)


async def _noncurrent(platform: Platform, bucket: Bucket, rule: dict[str, Any], key: str,
                      versions: list[ObjectVersion], now: dt.datetime) -> int:
    """Remove the expired noncurrent versions of one key (``versions`` newest first)."""
    if rule["noncurrent_days"] is None:
        return 0
    kept = removed = 0
    for newer, row in itertools.pairwise(versions):
        if row.is_delete_marker or not matches(rule, key, row.size, (row.meta or {}).get("tags", {})):
            continue
        kept += 1
        if rule["newer_noncurrent"] is not None and kept <= rule["newer_noncurrent"]:
            continue
        if _expired(newer.created_at, rule["noncurrent_days"], now) and not locking.locked(row):  # Object Lock holds it
            await objects.delete_object(platform, bucket, key, row.version_id)
            removed += 1
    return removed


async def _abort_uploads(platform: Platform, bucket: Bucket, rule: dict[str, Any], now: dt.datetime) -> int:
    query = select(Upload).where(Upload.bucket_id == bucket.id,
                                 Upload.created_at <= _midnight(now) - dt.timedelta(days=rule["abort_days"]))
    async with platform.db.session() as session:
        uploads = list((await session.scalars(_under(query, Upload.key, rule["prefix"]).limit(BATCH))).all())
    for upload in uploads:
        await multipart.abort(platform, upload)
    return len(uploads)

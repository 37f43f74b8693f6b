"""Background clean-up of bytes nothing points at:

- temporary files of abandoned uploads (older than an hour);
- multipart uploads left unfinished for a week (S3's usual AbortIncompleteMultipartUpload rule);
- the buckets' lifecycle rules (``expiration``), every ``CUMULO_S3_LIFECYCLE_INTERVAL_SECONDS``;
- the S3 request counts (per bucket and minute) billed long ago (``requests.KEEP``);
- orphan blobs: files no object version or upload part references, older than an hour (a crash
  between the blob's rename and its row's commit, or rows removed by a cascade such as a deleted
  user). The grace period covers writes in flight, whose rows commit milliseconds after the rename.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time

from sqlalchemy import select

from cumulo.core.clock import utcnow
from cumulo.platform import Platform
from cumulo.services.storage import expiration, multipart, requests
from cumulo.services.storage.lifecycle import STALE_SECONDS
from cumulo.services.storage.models import ObjectVersion, Part, Upload
from cumulo.services.storage.objects import blob_store

CHUNK = 500
UPLOAD_MAX_AGE = dt.timedelta(days=7)


def register(platform: Platform) -> None:
    async def clean_temp() -> None:
        await asyncio.to_thread(blob_store(platform).clean_temp, STALE_SECONDS)

    async def clean_orphans() -> None:
        await remove_orphans(platform)

    async def clean_uploads() -> None:
        await abort_stale_uploads(platform)

    async def apply_rules() -> None:
        await expiration.run(platform)

    platform.runner.every("storage.temp-cleanup", 600.0, clean_temp)
    platform.runner.every("storage.stale-uploads", 3600.0, clean_uploads)
    platform.runner.every("storage.orphan-blobs", 6 * 3600.0, clean_orphans)
    async def prune_requests() -> None:
        await requests.prune(platform)

    platform.runner.every("storage.lifecycle", platform.settings.s3_lifecycle_interval_seconds, apply_rules)
    platform.runner.every("storage.request-usage", 3600.0, prune_requests)


def _old_blobs(root: str, older_than: float) -> list[str]:
    cutoff = time.time() - older_than
    found = []
    for top in os.scandir(root):
        if not top.is_dir():
            continue
        for mid in os.scandir(top.path):
            if not mid.is_dir():
                continue
            for entry in os.scandir(mid.path):
                try:
                    if entry.is_file() and entry.stat().st_mtime < cutoff:
                        found.append(entry.name)
                except OSError:
                    continue
    return found


async def remove_orphans(platform: Platform, older_than: float = STALE_SECONDS) -> int:
    """Delete blob files no row references; returns how many were removed."""
    store = blob_store(platform)
    candidates = await asyncio.to_thread(_old_blobs, str(store.blob_dir), older_than)
    removed = 0
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start:start + CHUNK]
        async with platform.db.session() as session:
            used = set((await session.scalars(select(ObjectVersion.blob_id).where(
                ObjectVersion.blob_id.in_(chunk)))).all())
            used |= set((await session.scalars(select(Part.blob_id).where(Part.blob_id.in_(chunk)))).all())
        orphans = [b for b in chunk if b not in used]
        await store.delete(*orphans)
        removed += len(orphans)
    return removed


async def abort_stale_uploads(platform: Platform, max_age: dt.timedelta = UPLOAD_MAX_AGE) -> int:
    async with platform.db.session() as session:
        stale = (await session.scalars(select(Upload).where(Upload.created_at < utcnow() - max_age)
                                       .limit(1000))).all()
    for upload in stale:
        await multipart.abort(platform, upload)
    return len(stale)

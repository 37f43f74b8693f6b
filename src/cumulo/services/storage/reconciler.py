"""Background clean-up of bytes nothing points at:

- temporary files of abandoned uploads (older than an hour);
- orphan blobs: files no object version or upload part references, older than an hour (a crash
  between the blob's rename and its row's commit, or rows removed by a cascade such as a deleted
  user). The grace period covers writes in flight, whose rows commit milliseconds after the rename.
"""

from __future__ import annotations

import asyncio
import os
import time

from sqlalchemy import select

from cumulo.platform import Platform
from cumulo.services.storage.lifecycle import STALE_SECONDS
from cumulo.services.storage.models import ObjectVersion, Part
from cumulo.services.storage.objects import blob_store

CHUNK = 500


def register(platform: Platform) -> None:
    async def clean_temp() -> None:
        await asyncio.to_thread(blob_store(platform).clean_temp, STALE_SECONDS)

    async def clean_orphans() -> None:
        await remove_orphans(platform)

    platform.runner.every("storage.temp-cleanup", 600.0, clean_temp)
    platform.runner.every("storage.orphan-blobs", 6 * 3600.0, clean_orphans)


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

"""What a user stores in S3 (bytes and object versions), checked before each upload against
``CUMULO_QUOTA_STORAGE_BYTES`` and ``CUMULO_QUOTA_STORAGE_OBJECTS``.

The write path is group-committed and hot, so the check does not count rows on every PUT: each API
process keeps the bucket owner's use, measured from the database at most every ``FRESH_SECONDS``, and
adds to it what it admits meanwhile (a reservation taken before the body is read). Only a user's
first upload in a process waits for a measure; later ones go on with the known use while one
background measure per user refreshes it (what is admitted during that measure is added on top). The bytes that
count are the declared ``Content-Length`` (or ``x-amz-decoded-content-length``); a body of unknown
length counts after it is stored. Approximations, documented in the README: uploads admitted by
*other* API processes during the same few seconds are not seen until the next measure, so a user at
the edge may end up that much over; an overwrite counts as new bytes until the next measure; a refused
or failed upload keeps its reservation until then. The owner of the bucket is charged (a public or
policy-granted writer uses the owner's quota, as on S3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.platform import Platform
from cumulo.services.quotas import service as quotas
from cumulo.services.storage.models import Bucket, ObjectVersion, Part, Upload

FRESH_SECONDS = 2.0
log = logging.getLogger("cumulo.storage")


@dataclass
class Use:
    bytes: float
    objects: float
    measured: float
    since: list[float] = field(default_factory=lambda: [0.0, 0.0])  # admitted while a measure runs
    refresh: asyncio.Task[None] | None = None


async def measure(session: AsyncSession, user_id: str) -> tuple[int, int]:
    """(bytes, object versions) the user stores now: every version but delete markers, plus parts of
    multipart uploads not completed yet."""
    size, count = (await session.execute(
        select(func.coalesce(func.sum(ObjectVersion.size), 0), func.count(ObjectVersion.id))
        .join(Bucket, Bucket.id == ObjectVersion.bucket_id)
        .where(Bucket.user_id == user_id, ObjectVersion.is_delete_marker.is_(False)))).one()
    parts = await session.scalar(
        select(func.coalesce(func.sum(Part.size), 0)).join(Upload, Upload.id == Part.upload_id)
        .join(Bucket, Bucket.id == Upload.bucket_id).where(Bucket.user_id == user_id))
    return int(size or 0) + int(parts or 0), int(count or 0)


def _uses(platform: Platform) -> dict[str, Use]:
    return platform.get_or_create("storage.usage", dict)


async def admit(platform: Platform, user_id: str, size: int | None, objects: int = 1) -> None:
    """Refuse (403 ``QUOTA_EXCEEDED``) when ``size`` more bytes or ``objects`` more versions would pass
    the owner's quota; else reserve them. ``size`` None (not known yet): refused only when the quota is
    already used up; count it with ``add`` once stored."""
    uses = _uses(platform)
    use = uses.get(user_id)
    if use is None:
        async with platform.db.session() as session:
            stored, count = await measure(session, user_id)
        use = uses.get(user_id) or Use(stored, count, time.monotonic())
        if len(uses) > 100_000:
            uses.clear()
        uses[user_id] = use
    elif time.monotonic() - use.measured > FRESH_SECONDS and use.refresh is None:
        use.since = [0.0, 0.0]
        use.refresh = asyncio.create_task(_refresh(platform, user_id, use))
    settings = platform.settings
    cap = settings.quota_storage_bytes
    if (use.bytes + size > cap) if size is not None else (use.bytes >= cap):
        raise quotas.refuse(quotas.quota("storage_bytes"), use.bytes, size or 0, cap)
    if objects > 0 and use.objects + objects > settings.quota_storage_objects:
        raise quotas.refuse(quotas.quota("storage_objects"), use.objects, objects, settings.quota_storage_objects)
    use.bytes += size or 0
    use.objects += objects
    use.since[0] += size or 0
    use.since[1] += objects


async def _refresh(platform: Platform, user_id: str, use: Use) -> None:
    try:
        async with platform.db.session() as session:
            stored, count = await measure(session, user_id)
        use.bytes, use.objects = stored + use.since[0], count + use.since[1]
        use.measured = time.monotonic()
    except Exception as exc:  # noqa: BLE001 - the next upload tries again; the known use stands meanwhile
        log.warning("storage: could not measure the use of %s: %s", user_id, exc)
    finally:
        use.refresh = None


def add(platform: Platform, user_id: str, size: int) -> None:
    """Count bytes that were not reserved (a body of unknown length, once stored)."""
    use = _uses(platform).get(user_id)
    if use is not None and size > 0:
        use.bytes += size
        use.since[0] += size


def forget(platform: Platform, user_id: str) -> None:
    """Measure again at the next check (after deletes, so freed space is usable at once)."""
    _uses(platform).pop(user_id, None)

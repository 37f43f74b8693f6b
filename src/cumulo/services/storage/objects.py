"""Object use cases: receive bytes (streamed, verified, then made visible), record versions, read,
delete, copy. Every path that writes goes through ``receive`` and ``record_version``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import locks
from cumulo.drivers.blob import BlobWriter, LocalBlobStore
from cumulo.drivers.blob.local import INLINE_MAX
from cumulo.platform import Platform
from cumulo.services.storage import locking, reads, usage
from cumulo.services.storage.conditions import Guard
from cumulo.services.storage.errors import S3Error, no_such_key
from cumulo.services.storage.models import Bucket, ObjectVersion
from cumulo.services.storage.names import check_key
from cumulo.services.storage.versions import blob_store, record_version

__all__ = ["Checks", "blob_store", "copy_object", "delete_object", "get_version", "put_object", "receive",
           "record_version"]

MAX_OBJECT = 5 * 1024 ** 3


@dataclass
class Checks:
    """What the client promised about the body; verified before the object becomes visible."""

    size: int | None = None
    md5: bytes | None = None
    sha256_hex: str | None = None  # x-amz-content-sha256
    checksums: dict[str, str] = field(default_factory=dict)  # x-amz-checksum-<algo>: base64 (header or trailer)
    wants: set[str] = field(default_factory=set)  # algorithms announced for a trailer ("crc32c", ...)


async def receive(store: LocalBlobStore, body: AsyncIterator[bytes], checks: Checks,
                  limit: int = MAX_OBJECT, *, defer_small: bool = False) -> BlobWriter:
    """Stream ``body`` into a new blob, verify it, and commit it (not yet referenced by any row).
    With ``defer_small``, a small blob is only verified: the caller takes it with ``take_small`` and
    has it written together with its version (``record_version(small=...)``)."""
    if checks.size is not None and checks.size > limit:
        raise S3Error("EntityTooLarge", f"objects are limited to {limit} bytes", 400)
    algorithms = checks.wants | set(checks.checksums) | ({"sha256"} if checks.sha256_hex else set())
    writer = await store.writer(checksums=algorithms)
    try:
        async for chunk in body:
            await writer.write(chunk)
            if writer.size > limit:
                raise S3Error("EntityTooLarge", f"objects are limited to {limit} bytes", 400)
        await writer.finish()
        _verify(writer, checks)
        if not defer_small or writer.size > INLINE_MAX:
            await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    return writer


def _verify(writer: BlobWriter, checks: Checks) -> None:
    if checks.size is not None and writer.size != checks.size:
        raise S3Error("IncompleteBody", f"expected {checks.size} bytes, received {writer.size}", 400)
    if checks.md5 is not None and writer.md5_digest != checks.md5:
        raise S3Error("BadDigest", "the Content-MD5 you specified did not match what we received", 400)
    if checks.sha256_hex and writer.sha256_hex != checks.sha256_hex.lower():
        raise S3Error("XAmzContentSHA256Mismatch", "the provided x-amz-content-sha256 does not match the body", 400)
    for algorithm, expected in checks.checksums.items():
        if writer.checksum(algorithm) != expected:
            raise S3Error("BadDigest", f"the {algorithm.upper()} you specified did not match the calculated checksum",
                          400)


async def put_object(platform: Platform, bucket: Bucket, key: str, body: AsyncIterator[bytes], checks: Checks, *,
                     content_type: str | None, meta: dict[str, Any], guard: Guard | None = None,
                     lock: locking.Lock | None = None) -> ObjectVersion:
    check_key(key)
    await check_guard(platform, bucket, key, guard)
    await usage.admit(platform, bucket.user_id, checks.size)
    writer = await receive(blob_store(platform), body, checks, defer_small=True)
    if checks.size is None:
        usage.add(platform, bucket.user_id, writer.size)
    small = writer.take_small() if writer.size <= INLINE_MAX else None
    if small is None and not writer.closed:
        await writer.commit()  # pragma: no cover - receive committed everything but small blobs
    if checks.checksums:  # the object keeps the (first) checksum its writer sent, verified above
        algorithm = next(iter(checks.checksums))
        meta = {**meta, "checksum": [algorithm, checks.checksums[algorithm], "FULL_OBJECT"]}
    return await record_version(platform, bucket, key, blob_id=writer.blob_id, size=writer.size,
                                etag=writer.md5_hex, content_type=content_type or "application/octet-stream",
                                meta=meta, small=small, guard=guard, lock=lock)


async def check_guard(platform: Platform, bucket: Bucket, key: str, guard: Guard | None) -> None:
    """A conditional write's early check (before any byte is received); ``record_version`` checks
    again where the version is written."""
    if guard is not None:
        row = await reads.latest_version(platform, bucket.id, key)
        guard.verify(row.etag if row is not None and not row.is_delete_marker else None)


async def get_version(session: AsyncSession, bucket: Bucket, key: str, version_id: str | None = None,
                      *, allow_marker: bool = False) -> ObjectVersion:
    query = select(ObjectVersion).where(ObjectVersion.bucket_id == bucket.id, ObjectVersion.key == key)
    if version_id:
        if len(version_id) > 64:
            raise S3Error("InvalidArgument", "invalid version id", 400)
        row = await session.scalar(query.where(ObjectVersion.version_id == version_id))
        if row is None:
            raise S3Error("NoSuchVersion", "the specified version does not exist", 404, resource=key)
        if row.is_delete_marker and not allow_marker:
            raise S3Error("MethodNotAllowed", "the specified version is a delete marker", 405,
                          headers={"x-amz-delete-marker": "true", "x-amz-version-id": row.version_id})
        return row
    row = await session.scalar(query.where(ObjectVersion.is_latest.is_(True)))
    if row is None:
        raise no_such_key(key)
    if row.is_delete_marker and not allow_marker:
        err = no_such_key(key)
        err.headers.update({"x-amz-delete-marker": "true", "x-amz-version-id": row.version_id})
        raise err
    return row


async def read_version(platform: Platform, bucket: Bucket, key: str, version_id: str | None = None) -> Any:
    """``get_version`` for the read hot path (a row with the same attributes as ``ObjectVersion``)."""
    if version_id:
        async with platform.db.session() as session:
            return await get_version(session, bucket, key, version_id)
    row = await reads.latest_version(platform, bucket.id, key)
    if row is None:
        raise no_such_key(key)
    if row.is_delete_marker:
        err = no_such_key(key)
        err.headers.update({"x-amz-delete-marker": "true", "x-amz-version-id": row.version_id})
        raise err
    return row


async def delete_object(platform: Platform, bucket: Bucket, key: str, version_id: str | None = None, *,
                        bypass: bool = False) -> tuple[str | None, bool]:
    """S3 delete semantics. Returns (version id, is delete marker) for the response headers. A
    version under Object Lock is not removed (403; ``bypass``: a GOVERNANCE retention gives way)."""
    usage.forget(platform, bucket.user_id)
    if not version_id:
        if bucket.versioning:
            written = await record_version(platform, bucket, key, blob_id=None, size=0, etag="",
                                           content_type="", meta={}, delete_marker=True)
            return written.version_id, True
        async with platform.db.session() as session:
            await locks.hold(session, f"{bucket.id}/{key}")  # conditional writers of this key check under it
            row = await session.scalar(select(ObjectVersion).where(
                ObjectVersion.bucket_id == bucket.id, ObjectVersion.key == key, ObjectVersion.is_latest.is_(True)))
            if row is None:
                return None, False
            blob = row.blob_id
            await session.delete(row)
            await session.commit()
        await blob_store(platform).delete(blob)
        return None, False
    async with platform.db.session() as session:
        try:
            row = await get_version(session, bucket, key, version_id, allow_marker=True)
        except S3Error as exc:
            if exc.s3_code == "NoSuchVersion":  # deleting a missing version succeeds, as on S3
                return version_id, False
            raise
        locking.check_delete(row, bypass)
        was_latest, marker, blob = row.is_latest, row.is_delete_marker, row.blob_id
        await session.delete(row)
        await session.flush()
        if was_latest:
            newest = await session.scalar(select(ObjectVersion).where(
                ObjectVersion.bucket_id == bucket.id, ObjectVersion.key == key
            ).order_by(ObjectVersion.seq.desc()).limit(1))
            if newest is not None:
                newest.is_latest = True
        await session.commit()
    await blob_store(platform).delete(blob)
    return version_id, marker


async def copy_object(platform: Platform, src: ObjectVersion, dst_bucket: Bucket, dst_key: str, *,
                      content_type: str | None, meta: dict[str, Any] | None,
                      guard: Guard | None = None, lock: locking.Lock | None = None) -> ObjectVersion:
    """Server-side copy: the new version gets its own blob (a hard link when possible; blobs are
    immutable, so sharing the bytes is safe)."""
    check_key(dst_key)
    store = blob_store(platform)
    if src.blob_id is None:
        raise no_such_key(src.key)
    await check_guard(platform, dst_bucket, dst_key, guard)
    await usage.admit(platform, dst_bucket.user_id, src.size)
    blob_id = await store.duplicate(src.blob_id)
    return await record_version(platform, dst_bucket, dst_key, blob_id=blob_id, size=src.size, etag=src.etag,
                                content_type=content_type or src.content_type,
                                meta=dict(src.meta) if meta is None else meta, guard=guard, lock=lock)

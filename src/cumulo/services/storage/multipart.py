"""Multipart uploads: parts are blobs of their own; completion validates the list, concatenates the
parts into one blob and records it as a version (ETag = MD5 of the part MD5s + "-N")."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.ids import is_uuid
from cumulo.drivers.blob import checksums
from cumulo.platform import Platform
from cumulo.services.storage import locking, usage
from cumulo.services.storage.conditions import Guard
from cumulo.services.storage.errors import S3Error
from cumulo.services.storage.models import Bucket, ObjectVersion, Part, Upload
from cumulo.services.storage.names import check_key
from cumulo.services.storage.objects import Checks, blob_store, check_guard, receive, record_version

MIN_PART = 5 * 1024 * 1024
MAX_PART = 5 * 1024 ** 3
MAX_PARTS = 10000


async def create_upload(session: AsyncSession, bucket: Bucket, key: str, *, content_type: str | None,
                        meta: dict[str, Any]) -> Upload:
    check_key(key)
    upload = Upload(bucket_id=bucket.id, key=key, content_type=content_type or "application/octet-stream",
                    meta=meta)
    session.add(upload)
    await session.commit()
    return upload


async def get_upload(session: AsyncSession, bucket: Bucket, key: str, upload_id: str) -> Upload:
    upload = await session.get(Upload, upload_id) if is_uuid(upload_id) else None
    if upload is None or upload.bucket_id != bucket.id or upload.key != key:
        raise S3Error("NoSuchUpload", "the specified multipart upload does not exist", 404, resource=upload_id)
    return upload


def check_part_number(value: str | None) -> int:
    try:
        number = int(value or "")
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PARTS:
        raise S3Error("InvalidArgument", f"partNumber must be an integer between 1 and {MAX_PARTS}", 400)
    return number


async def upload_part(platform: Platform, upload: Upload, number: int, body: AsyncIterator[bytes],
                      checks: Checks, owner_id: str) -> Part:
    """``owner_id``: the bucket's owner, whose storage quota the part uses."""
    await usage.admit(platform, owner_id, checks.size, objects=0)
    algorithm = _algorithm(upload, checks)
    if algorithm:
        checks.wants.add(algorithm)
    writer = await receive(blob_store(platform), body, checks, limit=MAX_PART)
    if checks.size is None:
        usage.add(platform, owner_id, writer.size)
    return await _save_part(platform, upload, number, writer.blob_id, writer.size, writer.md5_hex,
                            f"{algorithm}:{writer.checksum(algorithm)}" if algorithm else None)


def _algorithm(upload: Upload, checks: Checks) -> str | None:
    """The part checksum to keep: the upload's algorithm (x-amz-checksum-algorithm at creation),
    else the one the part was sent with."""
    chosen = (upload.meta or {}).get("checksum_algorithm")
    sent = next(iter(checks.checksums), None) or next(iter(sorted(checks.wants)), None)
    if chosen and sent and sent != chosen:
        raise S3Error("InvalidRequest", f"Checksum Type mismatch occurred, expected checksum Type: {chosen}, actual "
                      f"checksum Type: {sent}", 400)
    return chosen or sent


async def copy_part(platform: Platform, upload: Upload, number: int, src: ObjectVersion,
                    byte_range: tuple[int, int] | None, owner_id: str) -> Part:
    store = blob_store(platform)
    if src.blob_id is None:
        raise S3Error("NoSuchKey", "the copy source does not exist", 404)
    start, end = byte_range if byte_range else (0, src.size - 1)
    await usage.admit(platform, owner_id, max(end - start + 1, 0), objects=0)

    async def body() -> AsyncIterator[bytes]:
        if src.size == 0:
            return
        async for chunk in await store.read(src.blob_id, start, end):  # type: ignore[arg-type]
            yield chunk

    algorithm = (upload.meta or {}).get("checksum_algorithm")
    writer = await receive(store, body(), Checks(wants={algorithm} if algorithm else set()), limit=MAX_PART)
    return await _save_part(platform, upload, number, writer.blob_id, writer.size, writer.md5_hex,
                            f"{algorithm}:{writer.checksum(algorithm)}" if algorithm else None)


async def _save_part(platform: Platform, upload: Upload, number: int, blob_id: str, size: int, etag: str,
                     checksum: str | None = None) -> Part:
    old_blob = None
    try:
        async with platform.db.session() as session:
            if await session.get(Upload, upload.id) is None:  # aborted or completed meanwhile
                raise S3Error("NoSuchUpload", "the specified multipart upload does not exist", 404)
            part = await session.get(Part, (upload.id, number))
            if part is None:
                part = Part(upload_id=upload.id, number=number, size=size, etag=etag, blob_id=blob_id,
                            checksum=checksum)
                session.add(part)
            else:
                old_blob = part.blob_id
                part.size, part.etag, part.blob_id, part.checksum = size, etag, blob_id, checksum
            await session.commit()
    except BaseException:
        await blob_store(platform).delete(blob_id)
        raise
    await blob_store(platform).delete(old_blob)
    return part


async def list_parts(session: AsyncSession, upload: Upload, *, after: int = 0, max_parts: int = 1000) -> list[Part]:
    return list((await session.scalars(select(Part).where(Part.upload_id == upload.id, Part.number > after)
                                       .order_by(Part.number).limit(max_parts))).all())


async def list_uploads(session: AsyncSession, bucket: Bucket, *, prefix: str = "",
                       max_uploads: int = 1000) -> list[Upload]:
    query = select(Upload).where(Upload.bucket_id == bucket.id)
    if prefix:
        query = query.where(Upload.key.startswith(prefix, autoescape=True))
    return list((await session.scalars(query.order_by(Upload.key, Upload.created_at).limit(max_uploads))).all())


def checksum_type(algorithm: str, asked: str | None) -> str:
    """The checksum type of a new upload (``x-amz-checksum-type``), as S3 allows it per algorithm:
    CRC64NVME only FULL_OBJECT, SHA-1/SHA-256 only COMPOSITE, CRC32/CRC32C either (COMPOSITE when
    not asked)."""
    kind = (asked or "").strip().upper() or ("FULL_OBJECT" if algorithm == "crc64nvme" else "COMPOSITE")
    if kind not in ("FULL_OBJECT", "COMPOSITE"):
        raise S3Error("InvalidRequest", f"x-amz-checksum-type must be FULL_OBJECT or COMPOSITE, not {asked!r}", 400)
    allowed = {"crc64nvme": ("FULL_OBJECT",), "crc32": ("FULL_OBJECT", "COMPOSITE"),
               "crc32c": ("FULL_OBJECT", "COMPOSITE")}.get(algorithm, ("COMPOSITE",))
    if kind not in allowed:
        raise S3Error("InvalidRequest", f"The {algorithm.upper()} algorithm does not support the {kind} checksum "
                      "type", 400)
    return kind


@dataclass(frozen=True)
class Whole:
    """What CompleteMultipartUpload's headers claim for the whole object: (algorithm, value) of
    its checksum, the checksum type, the size in bytes; each checked when given."""

    checksum: tuple[str, str] | None = None
    kind: str | None = None
    size: int | None = None


def full_object(parts: list[Part]) -> list[Any] | None:
    """The CRC of the whole object, combined from the parts' CRCs and sizes (no byte read again)."""
    sums = [p.checksum.split(":", 1) for p in parts if p.checksum]
    if not sums or len(sums) != len(parts) or len({a for a, _ in sums}) != 1 or sums[0][0] not in checksums.FULL_OBJECT:
        return None
    algorithm, value = sums[0]
    for part, (_, following) in zip(parts[1:], sums[1:], strict=True):
        value = checksums.combine(algorithm, value, following, part.size)
    return [algorithm, value, "FULL_OBJECT"]


def _check_whole(upload: Upload, chosen: list[Part], checksum: list[Any] | None, whole: Whole) -> None:
    kind = (upload.meta or {}).get("checksum_type")
    if whole.kind is not None and whole.kind != kind:
        raise S3Error("InvalidRequest", f"The upload was created using the {kind or 'null'} checksum mode. The "
                      f"complete request must use the same checksum mode.", 400)
    if whole.size is not None and whole.size != sum(p.size for p in chosen):
        raise S3Error("InvalidRequest", f"The provided 'x-amz-mp-object-size' header value {whole.size} does not "
                      f"match what was computed: {sum(p.size for p in chosen)}", 400)
    if whole.checksum is not None:
        algorithm, value = whole.checksum
        if checksum is None or checksum[0] != algorithm:
            raise S3Error("InvalidRequest", f"The upload was not created with the {algorithm.upper()} checksum "
                          "algorithm", 400)
        if value != checksum[1]:
            raise S3Error("BadDigest", f"The {algorithm.upper()} you specified did not match the calculated "
                          "checksum.", 400)


def composite(parts: list[Part]) -> list[Any] | None:
    """S3's composite checksum of a multipart object: the checksum of the parts' binary checksums,
    then ``-<count>``; None unless every part has one of the same algorithm."""
    sums = [p.checksum.split(":", 1) for p in parts if p.checksum]
    if len(sums) != len(parts) or len({a for a, _ in sums}) != 1:
        return None
    algorithm = sums[0][0]
    value = checksums.of(algorithm, b"".join(base64.b64decode(v) for _, v in sums))
    return [algorithm, f"{value}-{len(parts)}", "COMPOSITE"]


async def complete(platform: Platform, bucket: Bucket, upload: Upload,
                   wanted: list[tuple[int, str]], guard: Guard | None = None,
                   sent_sums: dict[int, tuple[str, str]] | None = None, whole: Whole = Whole()) -> ObjectVersion:
    """``guard``: If-Match/If-None-Match on the key's current version (412 and the upload kept)."""
    if not wanted:
        raise S3Error("MalformedXML", "CompleteMultipartUpload needs at least one part", 400)
    numbers = [n for n, _ in wanted]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise S3Error("InvalidPartOrder", "the list of parts was not in ascending order", 400)
    async with platform.db.session() as session:
        stored = {p.number: p for p in (await session.scalars(select(Part).where(Part.upload_id == upload.id))).all()}
    chosen = []
    for number, etag in wanted:  # every part must exist before sizes are looked at (S3's order)
        part = stored.get(number)
        if part is None or etag.strip('"') != part.etag:
            raise S3Error("InvalidPart", f"part {number} was not uploaded or its ETag does not match", 400)
        sent = (sent_sums or {}).get(number)
        if sent is not None and part.checksum != f"{sent[0]}:{sent[1]}":
            raise S3Error("InvalidPart", f"part {number}'s checksum does not match the uploaded part's", 400)
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART:
            raise S3Error("EntityTooSmall", f"part {part.number} is smaller than the minimum of {MIN_PART} bytes",
                          400)
    meta = _completed_meta(upload, chosen)
    _check_whole(upload, chosen, meta.get("checksum"), whole)
    await check_guard(platform, bucket, upload.key, guard)
    await usage.admit(platform, bucket.user_id, 0)  # the parts' bytes were counted when uploaded
    store = blob_store(platform)
    writer = await store.concat([p.blob_id for p in chosen])
    blob_id = await writer.commit()
    digest = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in chosen), usedforsecurity=False).hexdigest()
    version = await record_version(platform, bucket, upload.key, blob_id=blob_id, size=writer.size,
                                   etag=f"{digest}-{len(chosen)}", content_type=upload.content_type,
                                   meta=meta, guard=guard,
                                   lock=locking.from_meta(upload.meta.get("lock")))
    await abort(platform, upload)
    return version


def _completed_meta(upload: Upload, chosen: list[Part]) -> dict[str, Any]:
    meta = {**upload.meta, "parts": [p.size for p in chosen]}
    meta.pop("checksum_algorithm", None)
    kind = meta.pop("checksum_type", None)
    meta.pop("lock", None)  # in the version's lock columns
    checksum = full_object(chosen) if kind == "FULL_OBJECT" else composite(chosen)
    if checksum is not None:
        meta["checksum"] = checksum
        meta["part_checksums"] = [p.checksum.split(":", 1)[1] for p in chosen if p.checksum]
    return meta


async def abort(platform: Platform, upload: Upload) -> None:
    async with platform.db.session() as session:
        blobs = (await session.scalars(select(Part.blob_id).where(Part.upload_id == upload.id))).all()
        row = await session.get(Upload, upload.id)
        if row is not None:
            await session.delete(row)
        await session.commit()
    await blob_store(platform).delete(*blobs)

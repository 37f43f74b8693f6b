"""S3 multipart operations: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
ListMultipartUploads."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from cumulo.services.storage import buckets, locking, multipart, objects
from cumulo.services.storage.conditions import Guard
from cumulo.services.storage.errors import S3Error, malformed_xml
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import locks, xml
from cumulo.services.storage.s3.objects import (
    check_conditions,
    checksum_element,
    checksum_nodes,
    meta_with_acl,
    metadata_from,
    parse_copy_source,
    xml_response,
)
from cumulo.services.storage.s3.request import CHECKSUM_ALGOS, S3Request


async def create(req: S3Request, bucket: Bucket, key: str) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:PutObject", key)
    meta = await meta_with_acl(req, bucket, key, metadata_from(req))
    headers = {}
    if req.headers.get("x-amz-checksum-algorithm"):
        algorithm = req.headers["x-amz-checksum-algorithm"].strip().lower()
        if algorithm not in CHECKSUM_ALGOS:
            raise S3Error("InvalidRequest", f"Checksum algorithm provided is unsupported: {algorithm!r}", 400)
        meta["checksum_algorithm"] = algorithm
        meta["checksum_type"] = multipart.checksum_type(algorithm, req.headers.get("x-amz-checksum-type"))
        headers["x-amz-checksum-algorithm"] = algorithm.upper()
        headers["x-amz-checksum-type"] = meta["checksum_type"]
    elif req.headers.get("x-amz-checksum-type"):
        raise S3Error("InvalidRequest", "The x-amz-checksum-type header can only be used with the "
                      "x-amz-checksum-algorithm header.", 400)
    lock = locks.from_headers(req, bucket, key, body=False)
    if lock is not None:  # the completed object gets it
        meta["lock"] = locking.to_meta(lock)
    async with req.platform.db.session() as session:
        upload = await multipart.create_upload(session, bucket, key, content_type=req.headers.get("content-type"),
                                               meta=meta)
    return xml_response(xml.render("InitiateMultipartUploadResult", [
        ("Bucket", bucket.name), ("Key", key), ("UploadId", upload.id)]), headers=headers)


async def _upload(req: S3Request, bucket: Bucket, key: str):  # type: ignore[no-untyped-def]
    async with req.platform.db.session() as session:
        return await multipart.get_upload(session, bucket, key, req.params.get("uploadId", ""))


async def upload_part(req: S3Request, bucket: Bucket, key: str) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:PutObject", key)
    number = multipart.check_part_number(req.params.get("partNumber"))
    upload = await _upload(req, bucket, key)
    if "x-amz-copy-source" in req.headers:
        return await _copy_part(req, upload, number, bucket.user_id)
    checks = req.checks()
    part = await multipart.upload_part(req.platform, upload, number, req.body(checks), checks, bucket.user_id)
    headers = {"ETag": f'"{part.etag}"'}
    for algo, value in checks.checksums.items():
        headers[f"x-amz-checksum-{algo}"] = value
    if part.checksum:
        algo, _, value = part.checksum.partition(":")
        headers[f"x-amz-checksum-{algo}"] = value
    return Response(b"", headers=headers)


async def _copy_part(req: S3Request, upload: Any, number: int, owner_id: str) -> Response:
    src_bucket_name, src_key, src_version = parse_copy_source(req.headers["x-amz-copy-source"])
    async with req.platform.db.session() as session:
        src_bucket = await buckets.get_bucket(session, src_bucket_name)
        buckets.authorize(src_bucket, req.user_id, "s3:GetObject", src_key)
        src = await objects.get_version(session, src_bucket, src_key, src_version)
    check_conditions(req, src, prefix="x-amz-copy-source-if-")
    byte_range = None
    if "x-amz-copy-source-range" in req.headers:
        unit, _, spec = req.headers["x-amz-copy-source-range"].partition("=")
        first, _, last = spec.partition("-")
        try:
            byte_range = (int(first), int(last))
        except ValueError:
            byte_range = None
        if unit != "bytes" or byte_range is None or not 0 <= byte_range[0] <= byte_range[1] < src.size:
            raise S3Error("InvalidArgument", "x-amz-copy-source-range must be bytes=first-last within the source",
                          400)
    part = await multipart.copy_part(req.platform, upload, number, src, byte_range, owner_id)
    return xml_response(xml.render("CopyPartResult", [("LastModified", part.created_at),
                                                      ("ETag", f'"{part.etag}"')]))


async def complete(req: S3Request, bucket: Bucket, key: str) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:PutObject", key)
    upload = await _upload(req, bucket, key)
    doc = xml.parse(await req.read_small())
    wanted, sums = [], {}
    for part in doc.findall("Part"):
        number, etag = xml.text(part, "PartNumber"), xml.text(part, "ETag")
        if number is None or etag is None:
            raise malformed_xml("each Part needs PartNumber and ETag")
        wanted.append((multipart.check_part_number(number), etag))
        for algorithm in CHECKSUM_ALGOS:
            value = xml.text(part, checksum_element(algorithm))
            if value:
                sums[wanted[-1][0]] = (algorithm, value.strip())
    row = await multipart.complete(req.platform, bucket, upload, wanted, Guard.from_headers(req.headers), sums,
                                   whole=_whole(req))
    headers = {"x-amz-version-id": row.version_id} if bucket.versioning else {}
    return xml_response(xml.render("CompleteMultipartUploadResult", [
        ("Location", f"/{bucket.name}/{key}"), ("Bucket", bucket.name), ("Key", key), ("ETag", f'"{row.etag}"'),
        *checksum_nodes((row.meta or {}).get("checksum"))]), headers=headers)


def _whole(req: S3Request) -> multipart.Whole:
    """What the client says of the whole object on completion: its checksum, type and size."""
    sent = next(((a, req.headers[f"x-amz-checksum-{a}"].strip()) for a in CHECKSUM_ALGOS
                 if req.headers.get(f"x-amz-checksum-{a}")), None)
    size = req.headers.get("x-amz-mp-object-size")
    if size is not None and not size.strip().isdigit():
        raise S3Error("InvalidArgument", "x-amz-mp-object-size must be a number of bytes", 400)
    kind = req.headers.get("x-amz-checksum-type")
    return multipart.Whole(checksum=sent, kind=kind.strip().upper() if kind else None,
                           size=int(size) if size is not None else None)


async def abort(req: S3Request, bucket: Bucket, key: str) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:AbortMultipartUpload", key)
    upload = await _upload(req, bucket, key)
    await multipart.abort(req.platform, upload)
    return Response(b"", status_code=204)


async def list_parts(req: S3Request, bucket: Bucket, key: str) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:ListMultipartUploadParts", key)
    upload = await _upload(req, bucket, key)
    max_parts = req.int_param("max-parts", 1000)
    after = req.int_param("part-number-marker", 0, high=multipart.MAX_PARTS)
    async with req.platform.db.session() as session:
        parts = await multipart.list_parts(session, upload, after=after, max_parts=max_parts + 1)
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    items = [("Part", [("PartNumber", p.number), ("LastModified", p.created_at), ("ETag", f'"{p.etag}"'),
                       ("Size", p.size), *_part_sum(p)]) for p in parts]
    head: list[tuple[str, Any]] = [("Bucket", bucket.name), ("Key", key), ("UploadId", upload.id),
                                   ("PartNumberMarker", after), ("MaxParts", max_parts), ("IsTruncated", truncated)]
    if truncated and parts:
        head.append(("NextPartNumberMarker", parts[-1].number))
    return xml_response(xml.render("ListPartsResult", head + [("StorageClass", "STANDARD")] + items))


def _part_sum(part: Any) -> list[tuple[str, Any]]:
    if not part.checksum:
        return []
    algorithm, _, value = part.checksum.partition(":")
    return [(checksum_element(algorithm), value)]


async def list_uploads(req: S3Request, bucket: Bucket) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:ListBucket")
    max_uploads = req.int_param("max-uploads", 1000)
    prefix = req.params.get("prefix", "")
    async with req.platform.db.session() as session:
        rows = await multipart.list_uploads(session, bucket, prefix=prefix, max_uploads=max_uploads)
    items = [("Upload", [("Key", u.key), ("UploadId", u.id), ("Initiated", u.created_at),
                         ("StorageClass", "STANDARD")]) for u in rows]
    return xml_response(xml.render("ListMultipartUploadsResult", [
        ("Bucket", bucket.name), ("Prefix", prefix), ("MaxUploads", max_uploads), ("IsTruncated", False)] + items))

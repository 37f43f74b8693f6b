"""S3 object operations: Put (and Copy), Get/Head (ranges, conditions, response-* overrides), Delete,
DeleteObjects, object tagging."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from starlette.responses import Response, StreamingResponse

from cumulo.core.clock import aware
from cumulo.core.errors import NotFound
from cumulo.services.storage import buckets, multipart, objects
from cumulo.services.storage.conditions import Guard, etag_matches
from cumulo.services.storage.errors import S3Error, access_denied, malformed_xml
from cumulo.services.storage.models import Bucket, ObjectVersion
from cumulo.services.storage.s3 import grants, locks, xml
from cumulo.services.storage.s3.request import S3Request

SYSTEM_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
OVERRIDES = {"response-content-type": "content-type", "response-content-language": "content-language",
             "response-expires": "expires", "response-cache-control": "cache-control",
             "response-content-disposition": "content-disposition",
             "response-content-encoding": "content-encoding"}
MAX_META = 2048
MAX_TAGS = 10
READ_ATTEMPTS = 8
SMALL_READ = 256 * 1024  # answered in one piece; larger objects stream


def checksum_element(algorithm: str) -> str:
    """The XML element of a checksum value: ``ChecksumCRC32``, ``ChecksumSHA256`` ..."""
    return "Checksum" + algorithm.upper()


def checksum_nodes(checksum: list[Any] | None) -> list[tuple[str, Any]]:
    if not checksum:
        return []
    algorithm, value, kind = checksum
    return [(checksum_element(algorithm), value), ("ChecksumType", kind)]


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type="application/xml")


def metadata_from(req: S3Request) -> dict[str, Any]:
    user = {k[len("x-amz-meta-"):]: v for k, v in req.headers.items() if k.startswith("x-amz-meta-")}
    if sum(len(k) + len(v) for k, v in user.items()) > MAX_META:
        raise S3Error("MetadataTooLarge", f"user metadata is limited to {MAX_META} bytes", 400)
    system = {k: req.headers[k] for k in SYSTEM_HEADERS if k in req.headers}
    if "content-encoding" in system:  # aws-chunked is transport, not content
        sent = system["content-encoding"]
        kept = [e.strip() for e in sent.split(",") if e.strip() and e.strip() != "aws-chunked"]
        if len(kept) != len([e for e in sent.split(",") if e.strip()]):  # otherwise kept exactly as sent
            system["content-encoding"] = ", ".join(kept)
        if not kept:
            system.pop("content-encoding")
    meta: dict[str, Any] = {"user": user, "headers": system}
    if "x-amz-tagging" in req.headers:
        meta["tags"] = _tags_from_query(req.headers["x-amz-tagging"])
    return meta


def _tags_from_query(value: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    tags = dict(parse_qsl(value, keep_blank_values=True))
    check_tags(tags)
    return tags


def check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise S3Error("BadRequest", f"at most {MAX_TAGS} tags per object", 400)
    for k, v in tags.items():
        if not 1 <= len(k) <= 128 or len(v) > 256:
            raise S3Error("InvalidTag", "tag keys are 1-128 characters and values up to 256", 400)


def object_headers(row: ObjectVersion, bucket: Bucket, user_id: str | None) -> dict[str, str]:
    headers = {"ETag": f'"{row.etag}"', "Last-Modified": xml.http_date(row.created_at),
               "Content-Type": row.content_type, "Accept-Ranges": "bytes"}
    if bucket.versioning:
        headers["x-amz-version-id"] = row.version_id
    meta = row.meta or {}
    for k, v in meta.get("headers", {}).items():
        headers[k] = v
    for k, v in meta.get("user", {}).items():
        headers[f"x-amz-meta-{k}"] = v
    if meta.get("tags"):
        headers["x-amz-tagging-count"] = str(len(meta["tags"]))
    headers.update(locks.headers_of(row, bucket, user_id))
    return headers


async def meta_with_acl(req: S3Request, bucket: Bucket, key: str, meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with the ACL the request asks for (none: private); setting one needs PutObjectAcl."""
    meta.pop("acl", None)
    if "x-amz-acl" not in req.headers and not any(name in req.headers for name in grants.GRANT_HEADERS):
        return meta
    acl = await grants.grants_from(req, bucket, bucket.user_id)
    if acl is not None:
        buckets.authorize(bucket, req.user_id, "s3:PutObjectAcl", key)
        meta["acl"] = acl
    return meta


async def put(req: S3Request, bucket: Bucket, key: str) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:PutObject", key)
    lock = locks.from_headers(req, bucket, key)
    if "x-amz-copy-source" in req.headers:
        return await copy(req, bucket, key, lock)
    checks = req.checks()
    row = await objects.put_object(req.platform, bucket, key, req.body(checks), checks,
                                   content_type=req.headers.get("content-type"),
                                   meta=await meta_with_acl(req, bucket, key, metadata_from(req)),
                                   guard=Guard.from_headers(req.headers), lock=lock)
    headers = {"ETag": f'"{row.etag}"'}
    if bucket.versioning:
        headers["x-amz-version-id"] = row.version_id
    for algo, value in checks.checksums.items():
        headers[f"x-amz-checksum-{algo}"] = value
    return Response(b"", headers=headers)


def parse_copy_source(value: str) -> tuple[str, str, str | None]:
    source, _, query = value.partition("?")
    source = unquote(source).lstrip("/")
    bucket, _, key = source.partition("/")
    version = None
    if query.startswith("versionId="):
        version = unquote(query[len("versionId="):])
    if not bucket or not key:
        raise S3Error("InvalidArgument", "x-amz-copy-source must be <bucket>/<key>", 400)
    return bucket, key, version


async def copy(req: S3Request, bucket: Bucket, key: str, lock: Any = None) -> Response:
    src_bucket_name, src_key, src_version = parse_copy_source(req.headers["x-amz-copy-source"])
    directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "x-amz-metadata-directive must be COPY or REPLACE", 400)
    async with req.platform.db.session() as session:
        src_bucket = await buckets.get_bucket(session, src_bucket_name)
        buckets.authorize(src_bucket, req.user_id, "s3:GetObject", src_key)
        src = await objects.get_version(session, src_bucket, src_key, src_version)
    if directive == "COPY" and src_bucket.id == bucket.id and src_key == key and not src_version \
            and not bucket.versioning:
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to "
                      "itself without changing the object's metadata", 400)
    check_conditions(req, src, prefix="x-amz-copy-source-if-")
    meta = await meta_with_acl(req, bucket, key, metadata_from(req) if directive == "REPLACE" else dict(src.meta))
    if (src.meta or {}).get("checksum"):  # the same bytes: the same checksum
        for name in ("checksum", "part_checksums"):
            if name in src.meta:
                meta[name] = src.meta[name]
    row = await objects.copy_object(req.platform, src, bucket, key,
                                    content_type=req.headers.get("content-type") if directive == "REPLACE" else None,
                                    meta=meta, guard=Guard.from_headers(req.headers), lock=lock)
    headers = {"x-amz-version-id": row.version_id} if bucket.versioning else {}
    if src_bucket.versioning:
        headers["x-amz-copy-source-version-id"] = src.version_id
    return xml_response(xml.render("CopyObjectResult", [("LastModified", row.created_at),
                                                        ("ETag", f'"{row.etag}"')]), headers=headers)


def _http_time(value: str) -> dt.datetime | None:
    try:
        return aware(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def check_conditions(req: S3Request, row: ObjectVersion, prefix: str = "if-") -> None:
    h = req.headers
    modified = aware(row.created_at).replace(microsecond=0)
    failed = S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412)
    match, none_match = h.get(f"{prefix}match"), h.get(f"{prefix}none-match")
    if match is not None and not etag_matches(match, row.etag):
        raise failed
    since = _http_time(h.get(f"{prefix}unmodified-since", ""))
    if match is None and since is not None and modified > since:
        raise failed
    not_modified_status = 412 if prefix != "if-" else 304
    if none_match is not None and etag_matches(none_match, row.etag):
        raise S3Error("NotModified" if not_modified_status == 304 else "PreconditionFailed", "Not Modified",
                      not_modified_status, headers={"ETag": f'"{row.etag}"'})
    since = _http_time(h.get(f"{prefix}modified-since", ""))
    if none_match is None and since is not None and modified <= since:
        raise S3Error("NotModified" if not_modified_status == 304 else "PreconditionFailed", "Not Modified",
                      not_modified_status, headers={"ETag": f'"{row.etag}"'})


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """A single ``bytes=`` range as inclusive (start, end); None means the whole object."""
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise ValueError
            return (max(0, size - n), size - 1) if size else None
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        raise S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                      headers={"Content-Range": f"bytes */{size}"})
    return start, min(end, size - 1)


async def get(req: S3Request, bucket: Bucket, key: str, *, head: bool = False) -> Response:
    version_id = req.params.get("versionId") or None
    await grants.authorize_read(req, bucket, "s3:GetObjectVersion" if version_id else "s3:GetObject", key,
                                version_id)
    for _ in range(READ_ATTEMPTS - 1):
        try:
            return await _answer(req, bucket, key, version_id, head)
        except NotFound:  # overwritten between the lookup and the open: the new version is complete, serve it
            continue
    return await _answer(req, bucket, key, version_id, head)


async def _answer(req: S3Request, bucket: Bucket, key: str, version_id: str | None, head: bool) -> Response:
    row = await objects.read_version(req.platform, bucket, key, version_id)
    check_conditions(req, row)
    headers = object_headers(row, bucket, req.user_id)
    for param, header in OVERRIDES.items():
        if param in req.params:
            if req.user_id is None:
                raise S3Error("InvalidRequest", "response-* overrides need a signed request", 400)
            headers["Content-Type" if header == "content-type" else header] = req.params[param]
    status, start, end = 200, 0, row.size - 1
    part = req.params.get("partNumber")
    rng = parse_range(req.headers["range"], row.size) if "range" in req.headers and part is None else None
    if part is not None:
        rng = _part_range(row, part, headers)
    if rng is not None:
        status, (start, end) = 206, rng
        headers["Content-Range"] = f"bytes {start}-{end}/{row.size}"
    if rng is None and req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED" and \
            (row.meta or {}).get("checksum"):  # not for ranges: a range has none
        algorithm, value, kind = row.meta["checksum"]
        headers[f"x-amz-checksum-{algorithm}"], headers["x-amz-checksum-type"] = value, kind
    length = end - start + 1 if row.size else 0
    headers["Content-Length"] = str(length)
    if head or length == 0:
        return Response(b"", status_code=status, headers=headers)
    store = objects.blob_store(req.platform)
    if length <= SMALL_READ:
        return Response(await store.read_all(row.blob_id or "", start, end), status_code=status, headers=headers)
    return StreamingResponse(await store.read(row.blob_id or "", start, end), status_code=status, headers=headers)


def _part_range(row: ObjectVersion, value: str, headers: dict[str, str]) -> tuple[int, int] | None:
    """GetObject ``partNumber``: an object not made by multipart upload is its own part 1 (whole,
    without ``x-amz-mp-parts-count``); a multipart object serves the byte range of that part when
    its part sizes were recorded at completion (the whole object otherwise)."""
    number = multipart.check_part_number(value)
    _, dash, count_text = row.etag.rpartition("-")
    count = int(count_text) if dash and count_text.isdigit() else 1
    if number > count:
        raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", 416,
                      headers={"Content-Range": f"bytes */{row.size}"})
    if not dash:
        return None
    headers["x-amz-mp-parts-count"] = str(count)
    sizes = (row.meta or {}).get("parts")
    if not isinstance(sizes, list) or len(sizes) != count or sum(sizes) != row.size:
        return None
    start = sum(sizes[:number - 1])
    return start, start + sizes[number - 1] - 1


async def delete(req: S3Request, bucket: Bucket, key: str) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:DeleteObject", key)
    version_id, marker = await objects.delete_object(req.platform, bucket, key, req.params.get("versionId") or None,
                                                     bypass=locks.bypass(req, bucket, key))
    headers = {}
    if version_id:
        headers["x-amz-version-id"] = version_id
    if marker:
        headers["x-amz-delete-marker"] = "true"
    return Response(b"", status_code=204, headers=headers)


async def delete_many(req: S3Request, bucket: Bucket) -> Response:
    doc = xml.parse(await req.read_small())
    items = doc.findall("Object")
    if not items or len(items) > 1000:
        raise malformed_xml("Delete needs 1 to 1000 Object elements")
    quiet = (xml.text(doc, "Quiet", "false") or "").lower() == "true"
    results: list[tuple[str, Any]] = []
    for item in items:
        key = xml.text(item, "Key")
        version = xml.text(item, "VersionId")
        if not key:
            raise malformed_xml("each Object needs a Key")
        try:
            buckets.authorize(bucket, req.user_id, "s3:DeleteObject", key)
            vid, marker = await objects.delete_object(req.platform, bucket, key, version,
                                                      bypass=locks.bypass(req, bucket, key))
        except S3Error as exc:
            results.append(("Error", [("Key", key), ("VersionId", version), ("Code", exc.s3_code),
                                      ("Message", exc.message)]))
            continue
        if not quiet:
            entry: list[tuple[str, Any]] = [("Key", key), ("VersionId", version)]
            if marker:
                entry += [("DeleteMarker", True), ("DeleteMarkerVersionId", vid)]
            results.append(("Deleted", entry))
    return xml_response(xml.render("DeleteResult", results))


async def tagging(req: S3Request, bucket: Bucket, key: str) -> Response:
    version_id = req.params.get("versionId") or None
    action = "s3:GetObjectTagging" if req.method == "GET" else "s3:PutObjectTagging"
    buckets.authorize(bucket, req.user_id, action, key)
    tags: dict[str, str] | None = None
    if req.method == "PUT":
        doc = xml.parse(await req.read_small())
        tags = {}
        for tag in doc.iter("Tag"):
            k, v = xml.text(tag, "Key"), xml.text(tag, "Value", "")
            if k is None:
                raise malformed_xml("each Tag needs a Key")
            tags[k] = v or ""
        check_tags(tags)
    async with req.platform.db.session() as session:
        row = await objects.get_version(session, bucket, key, version_id)
        headers = {"x-amz-version-id": row.version_id} if bucket.versioning else {}  # which version, as S3 says
        if req.method == "GET":
            items = [("Tag", [("Key", k), ("Value", v)]) for k, v in (row.meta or {}).get("tags", {}).items()]
            return xml_response(xml.render("Tagging", [("TagSet", items)]), headers=headers)
        if req.user_id is None:
            raise access_denied()
        row.meta = {**(row.meta or {}), "tags": tags or {}}
        await session.commit()
    return Response(b"", status_code=204 if req.method == "DELETE" else 200, headers=headers)

"""S3 bucket operations: ListBuckets, Create/Head/Delete, location, versioning, policy, CORS, tagging,
and the listings (ListObjects V1/V2, ListObjectVersions)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.responses import Response

from cumulo.services.identity.models import User
from cumulo.services.storage import acls, buckets, listing
from cumulo.services.storage.errors import S3Error, access_denied, malformed_xml
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import grants, xml
from cumulo.services.storage.s3.objects import xml_response
from cumulo.services.storage.s3.request import S3Request


async def owner(req: S3Request, user_id: str) -> list[tuple[str, Any]]:
    """The ``Owner`` element: the user's id and display name (their account name)."""
    async with req.platform.db.session() as session:
        name = await session.scalar(select(User.name).where(User.id == user_id))
    return [("ID", user_id), ("DisplayName", name or user_id)]


def _need_user(req: S3Request) -> str:
    if req.user_id is None:
        raise access_denied("anonymous requests may only read what a bucket policy makes public")
    return req.user_id


async def list_all(req: S3Request) -> Response:
    user_id = _need_user(req)
    async with req.platform.db.session() as session:
        rows = await buckets.list_buckets(session, user_id)
    items = [("Bucket", [("Name", b.name), ("CreationDate", b.created_at)]) for b in rows]
    return xml_response(xml.render("ListAllMyBucketsResult", [("Owner", await owner(req, user_id)), ("Buckets", items)]))


async def create(req: S3Request, name: str) -> Response:
    user_id = _need_user(req)
    body = await req.read_small(64 * 1024)
    if body.strip():
        doc = xml.parse(body)
        region = xml.text(doc, "LocationConstraint")
        if region and region != req.platform.settings.s3_region:
            raise S3Error("InvalidLocationConstraint", f"this endpoint serves region "
                          f"{req.platform.settings.s3_region}", 400)
    acl = await grants.grants_from(req, None, user_id)
    ownership = req.headers.get("x-amz-object-ownership")
    if ownership is not None and ownership not in acls.OWNERSHIP:
        raise S3Error("InvalidArgument", f"x-amz-object-ownership must be one of {', '.join(acls.OWNERSHIP)}", 400)
    acls.check_ownership(acl, user_id, ownership)
    lock = req.headers.get("x-amz-bucket-object-lock-enabled", "false").strip().lower()
    if lock not in ("true", "false"):
        raise S3Error("InvalidArgument", "x-amz-bucket-object-lock-enabled must be true or false", 400)
    async with req.platform.db.session() as session:
        await buckets.create_bucket(session, user_id, name, platform=req.platform, acl=acl, ownership=ownership,
                                    object_lock=lock == "true")
    return Response(b"", headers={"Location": f"/{name}"})


async def head(req: S3Request, bucket: Bucket) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:ListBucket")
    return Response(b"", headers={"x-amz-bucket-region": req.platform.settings.s3_region})


async def delete(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    async with req.platform.db.session() as session:
        await buckets.delete_bucket(session, await session.merge(bucket), req.platform)
    return Response(b"", status_code=204)


def _owned(req: S3Request, bucket: Bucket) -> None:
    if req.user_id != bucket.user_id:
        raise access_denied()


async def location(req: S3Request, bucket: Bucket) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:GetBucketLocation")
    region = req.platform.settings.s3_region
    value = None if region == "us-east-1" else region
    return xml_response(xml.leaf("LocationConstraint", value or ""))


async def versioning(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    if req.method == "GET":
        return xml_response(xml.render("VersioningConfiguration", [("Status", bucket.versioning or None)]))
    doc = xml.parse(await req.read_small())
    status = xml.text(doc, "Status")
    async with req.platform.db.session() as session:
        await buckets.set_versioning(session, await session.merge(bucket), status or "")
    return Response(b"")


async def policy(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    if req.method == "GET":
        if not bucket.policy:
            raise S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", 404, resource=bucket.name)
        return Response(bucket.policy.encode(), media_type="application/json")
    text = None
    if req.method == "PUT":
        try:
            text = (await req.read_small(buckets.MAX_POLICY + 1)).decode()
        except UnicodeDecodeError:
            raise S3Error("MalformedPolicy", "policy must be UTF-8 JSON", 400) from None
    async with req.platform.db.session() as session:
        await buckets.set_policy(session, await session.merge(bucket), text)
    return Response(b"", status_code=204)


async def cors(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    if req.method == "GET":
        if not bucket.cors:
            raise S3Error("NoSuchCORSConfiguration", "The CORS configuration does not exist", 404)
        rules = [("CORSRule", [(tag, v) for tag, values in rule.items() for v in values])
                 for rule in json.loads(bucket.cors)]
        return xml_response(xml.render("CORSConfiguration", rules))
    rules_out: list[dict[str, list[str]]] | None = None
    if req.method == "PUT":
        doc = xml.parse(await req.read_small())
        rules_out = []
        for rule in doc.findall("CORSRule"):
            entry: dict[str, list[str]] = {}
            for child in rule:
                if child.tag in ("AllowedOrigin", "AllowedMethod", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds",
                                 "ID"):
                    entry.setdefault(child.tag, []).append(child.text or "")
            if not entry.get("AllowedOrigin") or not entry.get("AllowedMethod"):
                raise malformed_xml("each CORSRule needs AllowedOrigin and AllowedMethod")
            rules_out.append(entry)
        if not rules_out or len(rules_out) > 100:
            raise malformed_xml("CORSConfiguration needs 1 to 100 CORSRule elements")
    async with req.platform.db.session() as session:
        await buckets.set_cors(session, await session.merge(bucket), rules_out)
    return Response(b"", status_code=204 if req.method == "DELETE" else 200)


async def tagging(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    if req.method == "GET":
        if not bucket.tags:
            raise S3Error("NoSuchTagSet", "There is no tag set associated with the bucket", 404)
        items = [("Tag", [("Key", k), ("Value", v)]) for k, v in bucket.tags.items()]
        return xml_response(xml.render("Tagging", [("TagSet", items)]))
    tags: dict[str, str] = {}
    if req.method == "PUT":
        doc = xml.parse(await req.read_small())
        for tag in doc.iter("Tag"):
            k = xml.text(tag, "Key")
            if not k or len(k) > 128:
                raise S3Error("InvalidTag", "tag keys are 1-128 characters", 400)
            tags[k] = (xml.text(tag, "Value", "") or "")[:256]
        if len(tags) > 50:
            raise S3Error("InvalidTag", "at most 50 tags per bucket", 400)
    async with req.platform.db.session() as session:
        await buckets.set_tags(session, await session.merge(bucket), tags)
    return Response(b"", status_code=204)


def _encoder(req: S3Request) -> Any:
    kind = req.params.get("encoding-type")
    if kind is None:
        return lambda s: s
    if kind != "url":
        raise S3Error("InvalidArgument", "encoding-type must be url", 400)
    return lambda s: None if s is None else quote(s, safe="/")


async def list_objects(req: S3Request, bucket: Bucket) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:ListBucket")
    p = req.params
    enc = _encoder(req)
    v2 = p.get("list-type") == "2"
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    max_keys = req.int_param("max-keys", 1000)
    if v2:
        token = p.get("continuation-token")
        after = _decode_token(token) if token is not None else p.get("start-after") or None
    else:
        after = p.get("marker") or None
    async with req.platform.db.session() as session:
        page = await listing.list_objects(session, bucket, prefix=prefix, delimiter=delimiter, after=after,
                                          max_keys=max_keys)
    contents = []
    owner_node = await owner(req, bucket.user_id) if page.objects and (not v2 or p.get("fetch-owner") == "true") \
        else None
    for row in page.objects:
        entry: list[tuple[str, Any]] = [("Key", enc(row.key)), ("LastModified", row.created_at),
                                        ("ETag", f'"{row.etag}"'), *_checksum(row), ("Size", row.size),
                                        ("StorageClass", "STANDARD")]
        if not v2 or p.get("fetch-owner") == "true":
            entry.append(("Owner", owner_node))
        contents.append(("Contents", entry))
    common = [("CommonPrefixes", [("Prefix", enc(cp))]) for cp in page.prefixes]
    head: list[tuple[str, Any]] = [("Name", bucket.name), ("Prefix", enc(prefix))]
    if v2:
        head += [("KeyCount", len(contents) + len(common)), ("MaxKeys", max_keys)]
        if "continuation-token" in p:
            head.append(("ContinuationToken", p["continuation-token"]))
        if p.get("start-after"):
            head.append(("StartAfter", enc(p["start-after"])))
        if page.truncated and page.last is not None:
            head.append(("NextContinuationToken", base64.urlsafe_b64encode(page.last.encode()).decode()))
    else:
        head += [("Marker", enc(p.get("marker", ""))), ("MaxKeys", max_keys)]
        if page.truncated and delimiter:
            head.append(("NextMarker", enc(page.last)))
    if delimiter:
        head.append(("Delimiter", enc(delimiter)))
    if "encoding-type" in p:
        head.append(("EncodingType", "url"))
    head.append(("IsTruncated", page.truncated))
    return xml_response(xml.render("ListBucketResult", head + contents + common))


def _checksum(row: Any) -> list[tuple[str, Any]]:
    checksum = (row.meta or {}).get("checksum")
    return [("ChecksumAlgorithm", checksum[0].upper()), ("ChecksumType", checksum[2])] if checksum else []


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect", 400) from None


async def list_versions(req: S3Request, bucket: Bucket) -> Response:
    buckets.authorize(bucket, req.user_id, "s3:ListBucketVersions")
    p = req.params
    enc = _encoder(req)
    max_keys = req.int_param("max-keys", 1000)
    delimiter = p.get("delimiter", "")
    async with req.platform.db.session() as session:
        page = await listing.list_versions(session, bucket, prefix=p.get("prefix", ""), delimiter=delimiter,
                                           key_marker=p.get("key-marker") or None,
                                           version_marker=p.get("version-id-marker") or None, max_keys=max_keys)
    items: list[tuple[str, Any]] = []
    owner_node = await owner(req, bucket.user_id) if page.objects else None
    for row in page.objects:
        common: list[tuple[str, Any]] = [("Key", enc(row.key)), ("VersionId", row.version_id),
                                         ("IsLatest", row.is_latest), ("LastModified", row.created_at)]
        if row.is_delete_marker:
            items.append(("DeleteMarker", common + [("Owner", owner_node)]))
        else:
            items.append(("Version", common + [("ETag", f'"{row.etag}"'), *_checksum(row), ("Size", row.size),
                                               ("StorageClass", "STANDARD"), ("Owner", owner_node)]))
    head: list[tuple[str, Any]] = [("Name", bucket.name), ("Prefix", enc(p.get("prefix", ""))),
                                   ("KeyMarker", enc(p.get("key-marker", ""))),
                                   ("VersionIdMarker", p.get("version-id-marker", "")), ("MaxKeys", max_keys),
                                   ("IsTruncated", page.truncated)]
    if delimiter:
        head.append(("Delimiter", enc(delimiter)))
    if "encoding-type" in p:
        head.append(("EncodingType", "url"))
    if page.truncated:
        head.append(("NextKeyMarker", enc(page.last)))
        if page.last_version is not None:
            head.append(("NextVersionIdMarker", page.last_version))
    common = [("CommonPrefixes", [("Prefix", enc(cp))]) for cp in page.prefixes]
    return xml_response(xml.render("ListVersionsResult", head + items + common))

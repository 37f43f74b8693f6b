"""S3 access settings: Get/Put bucket and object ACLs (``AccessControlPolicy`` documents or the
headers of ``grants``), the public access block, GetBucketPolicyStatus and Object
Ownership controls."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from cumulo.services.identity.models import User
from cumulo.services.storage import acls, buckets
from cumulo.services.storage.errors import S3Error, access_denied, malformed_xml
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import xml
from cumulo.services.storage.s3.grants import GRANT_HEADERS, grants_from, malformed_acl, readable, resolve
from cumulo.services.storage.s3.objects import xml_response
from cumulo.services.storage.s3.request import S3Request

XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


async def _names(req: S3Request, ids: set[str]) -> dict[str, str]:
    async with req.platform.db.session() as session:
        return dict((await session.execute(select(User.id, User.name).where(User.id.in_(ids)))).all())


async def _render(req: S3Request, owner_id: str, grants: list[list[str]] | None,
                  headers: dict[str, str] | None = None) -> Response:
    grants = acls.effective(grants, owner_id)
    ids = {owner_id} | {g[3:] for g, _ in grants if g.startswith("id:")}
    names = await _names(req, ids)
    items: list[tuple[str, Any]] = []
    for grantee, permission in grants:
        if grantee.startswith("id:"):
            who: list[tuple[str, Any]] = [("ID", grantee[3:]), ("DisplayName", names.get(grantee[3:], grantee[3:]))]
            node = f'Grantee {XSI} xsi:type="CanonicalUser"'
        else:
            who, node = [("URI", grantee)], f'Grantee {XSI} xsi:type="Group"'
        items.append(("Grant", [(node, who), ("Permission", permission)]))
    owner = [("ID", owner_id), ("DisplayName", names.get(owner_id, owner_id))]
    return xml_response(xml.render("AccessControlPolicy", [("Owner", owner), ("AccessControlList", items)]),
                        headers=headers)


async def _parse(req: S3Request, body: bytes, owner_id: str) -> list[list[str]]:
    doc = xml.parse(body)
    if doc.tag != "AccessControlPolicy":
        raise malformed_xml("expected an AccessControlPolicy document")
    owner = xml.text(doc, "Owner/ID")
    if owner is not None and owner != owner_id:
        raise access_denied("the Owner of an ACL cannot be changed")
    pairs = []
    for grant in doc.iter("Grant"):
        grantee, permission = grant.find("Grantee"), (xml.text(grant, "Permission") or "").strip()
        if grantee is None:
            raise malformed_acl("each Grant needs a Grantee")
        for tag, kind in (("ID", "id"), ("EmailAddress", "email"), ("URI", "uri")):
            value = xml.text(grantee, tag)
            if value:
                pairs.append((kind, value.strip(), permission))
                break
        else:
            raise malformed_acl("a Grantee needs an ID, EmailAddress or URI")
    return await resolve(req, pairs)


async def _requested(req: S3Request, bucket: Bucket) -> list[list[str]] | None:
    """The ACL a PutBucketAcl/PutObjectAcl sets: headers or a document, not both."""
    from_headers = await grants_from(req, bucket, bucket.user_id)
    body = await req.read_small()
    if body.strip():
        if "x-amz-acl" in req.headers or any(n in req.headers for n in GRANT_HEADERS):
            raise S3Error("UnexpectedContent", "This request does not support content with ACL headers", 400)
        grants = await _parse(req, body, bucket.user_id)
        acls.check_writable(bucket, grants)
        return grants
    if "x-amz-acl" not in req.headers and not any(n in req.headers for n in GRANT_HEADERS):
        raise S3Error("MissingSecurityHeader", "Your request was missing a required header (x-amz-acl or an ACL "
                      "document)", 400)
    return from_headers


async def bucket_acl(req: S3Request, bucket: Bucket) -> Response:
    if req.method == "GET":
        buckets.authorize(bucket, req.user_id, "s3:GetBucketAcl")
        return await _render(req, bucket.user_id, bucket.acl)
    buckets.authorize(bucket, req.user_id, "s3:PutBucketAcl")
    grants = await _requested(req, bucket)
    async with req.platform.db.session() as session:
        row = await session.merge(bucket)
        row.acl = grants
        await session.commit()
    return Response(b"")


async def object_acl(req: S3Request, bucket: Bucket, key: str) -> Response:
    version_id = req.params.get("versionId") or None
    get = req.method == "GET"
    action = ("s3:GetObjectAcl" if get else "s3:PutObjectAcl") if not version_id else \
        ("s3:GetObjectVersionAcl" if get else "s3:PutObjectVersionAcl")
    async with req.platform.db.session() as session:
        row = await readable(session, req, bucket, key, version_id, action)
        headers = {"x-amz-version-id": row.version_id} if bucket.versioning else {}
        if get:
            grants = (row.meta or {}).get("acl")
        else:
            grants = await _requested(req, bucket)
            meta = {**(row.meta or {})}
            meta.pop("acl", None)
            if grants is not None:
                meta["acl"] = grants
            row.meta = meta
            await session.commit()
    if get:
        return await _render(req, bucket.user_id, grants, headers)
    return Response(b"", headers=headers)


# --- public access block, policy status, ownership controls ------------------------------------

def _owned(req: S3Request, bucket: Bucket) -> None:
    if req.user_id != bucket.user_id:
        raise access_denied()


async def _save(req: S3Request, bucket: Bucket, **values: Any) -> None:
    async with req.platform.db.session() as session:
        row = await session.merge(bucket)
        for name, value in values.items():
            setattr(row, name, value)
        await session.commit()


async def public_block(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    if req.method == "GET":
        if bucket.public_block is None:
            raise S3Error("NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not "
                          "found", 404, resource=bucket.name)
        return xml_response(xml.render("PublicAccessBlockConfiguration",
                                       [(f, bool(bucket.public_block.get(f))) for f in acls.BLOCK_FLAGS]))
    if req.method == "DELETE":
        await _save(req, bucket, public_block=None)
        return Response(b"", status_code=204)
    doc = xml.parse(await req.read_small())
    if doc.tag != "PublicAccessBlockConfiguration":
        raise malformed_xml("expected a PublicAccessBlockConfiguration document")
    flags = {}
    for flag in acls.BLOCK_FLAGS:
        value = (xml.text(doc, flag, "false") or "").strip().lower()
        if value not in ("true", "false"):
            raise malformed_xml(f"{flag} must be true or false")
        flags[flag] = value == "true"
    await _save(req, bucket, public_block=flags)
    return Response(b"")


async def policy_status(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    if not bucket.policy:
        raise S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", 404, resource=bucket.name)
    return xml_response(xml.render("PolicyStatus", [("IsPublic", buckets.policy_is_public(bucket.policy))]))


async def ownership(req: S3Request, bucket: Bucket) -> Response:
    _owned(req, bucket)
    if req.method == "GET":
        if bucket.ownership is None:
            raise S3Error("OwnershipControlsNotFoundError", "The bucket ownership controls were not found", 404,
                          resource=bucket.name)
        return xml_response(xml.render("OwnershipControls", [("Rule", [("ObjectOwnership", bucket.ownership)])]))
    if req.method == "DELETE":
        await _save(req, bucket, ownership=None)
        return Response(b"", status_code=204)
    doc = xml.parse(await req.read_small())
    rules = doc.findall("Rule")
    value = xml.text(rules[0], "ObjectOwnership") if len(rules) == 1 else None
    if value not in acls.OWNERSHIP:
        raise malformed_xml(f"OwnershipControls needs one Rule with ObjectOwnership {' | '.join(acls.OWNERSHIP)}")
    acls.check_ownership(bucket.acl, bucket.user_id, value)
    await _save(req, bucket, ownership=value)
    return Response(b"")

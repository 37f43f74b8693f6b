"""The ACL a write asks for: a canned ``x-amz-acl`` or ``x-amz-grant-*`` headers (``id=``,
``emailAddress=``, ``uri=``), resolved to stored grants (emails to user ids); and reads that an object's own ACL may allow."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from cumulo.services.identity.models import User
from cumulo.services.storage import acls, buckets, objects, policies
from cumulo.services.storage.errors import S3Error, access_denied
from cumulo.services.storage.models import Bucket, ObjectVersion
from cumulo.services.storage.s3.request import S3Request

GRANT_HEADERS = {"x-amz-grant-read": "READ", "x-amz-grant-write": "WRITE", "x-amz-grant-read-acp": "READ_ACP",
                 "x-amz-grant-write-acp": "WRITE_ACP", "x-amz-grant-full-control": "FULL_CONTROL"}
_GRANTEE = re.compile(r'\s*(id|emailAddress|uri)\s*=\s*"([^"]*)"\s*(?:,|$)', re.IGNORECASE)
MAX_GRANTS = 100


def malformed_acl(why: str) -> S3Error:
    return S3Error("MalformedACLError", f"The XML you provided was not well-formed or did not validate: {why}", 400)


def _invalid(why: str) -> S3Error:
    return S3Error("InvalidArgument", why, 400)


async def resolve(req: S3Request, pairs: list[tuple[str, str, str]]) -> list[list[str]]:
    """(kind, value, permission) -> stored grants; ids must be users, emails are looked up."""
    ids = {v for k, v, _ in pairs if k == "id"}
    emails = {v.lower() for k, v, _ in pairs if k == "email"}
    async with req.platform.db.session() as session:
        known = set((await session.scalars(select(User.id).where(User.id.in_(ids)))).all()) if ids else set()
        by_email: dict[str, str] = dict((await session.execute(select(func.lower(User.email), User.id).where(
            func.lower(User.email).in_(emails)))).all()) if emails else {}
    out: list[list[str]] = []
    for kind, value, permission in pairs:
        if permission not in acls.PERMISSIONS:
            raise malformed_acl(f"unknown permission {permission!r}")
        if kind == "id":
            if value not in known:
                raise _invalid("Invalid id")
            grantee = f"id:{value}"
        elif kind == "email":
            if value.lower() not in by_email:
                raise S3Error("UnresolvableGrantByEmailAddress", "The email address you provided does not match any "
                              "account on record.", 400)
            grantee = f"id:{by_email[value.lower()]}"
        else:
            if not value.startswith(acls.GROUPS):
                raise _invalid(f"unknown group {value!r}")
            grantee = value
        if [grantee, permission] not in out:
            out.append([grantee, permission])
    if len(out) > MAX_GRANTS:
        raise _invalid(f"at most {MAX_GRANTS} grants")
    return out


async def grants_from(req: S3Request, bucket: Bucket | None, owner_id: str) -> list[list[str]] | None:
    """The ACL a write asks for (``x-amz-acl`` or ``x-amz-grant-*``), checked against ``bucket``'s
    settings; None when the request names none (the object stays private)."""
    h = req.headers
    if "x-amz-acl" not in h and not any(name in h for name in GRANT_HEADERS):
        return None
    if "x-amz-acl" in h:
        if any(name in h for name in GRANT_HEADERS):
            raise S3Error("InvalidRequest", "Specify either a canned ACL or x-amz-grant-* headers, not both", 400)
        grants = acls.canned(h["x-amz-acl"].strip(), owner_id)
    else:
        pairs = []
        for name, permission in GRANT_HEADERS.items():
            if name in h:
                pairs += [(kind, value, permission) for kind, value in _grantees(h[name])]
        grants = await resolve(req, pairs)
    if bucket is not None:
        acls.check_writable(bucket, grants)
    return None if grants == acls.canned("private", owner_id) else grants


def _grantees(value: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    value = value.strip()
    while pos < len(value):
        match = _GRANTEE.match(value, pos)
        if match is None:
            raise _invalid("x-amz-grant-* takes id=\"...\", emailAddress=\"...\" or uri=\"...\" items")
        kind = match.group(1).lower()
        out.append(("email" if kind == "emailaddress" else kind, match.group(2)))
        pos = match.end()
    return out


async def readable(session: Any, req: S3Request, bucket: Bucket, key: str, version_id: str | None,
                    action: str) -> ObjectVersion:
    """The version, once ``action`` on it is allowed; a caller who may not see it gets AccessDenied
    whether or not it exists."""
    try:
        buckets.authorize(bucket, req.user_id, action, key)
    except S3Error:
        if not buckets.may_read_by_acl(bucket, req.user_id):
            raise
        try:
            row = await objects.get_version(session, bucket, key, version_id)
        except S3Error:
            raise access_denied() from None
        token = policies.OBJECT_TAGS.set((row.meta or {}).get("tags") or {})
        try:
            buckets.authorize(bucket, req.user_id, action, key, (row.meta or {}).get("acl"))
        finally:
            policies.OBJECT_TAGS.reset(token)
        return row
    return await objects.get_version(session, bucket, key, version_id)


async def authorize_read(req: S3Request, bucket: Bucket, action: str, key: str, version_id: str | None) -> None:
    """GetObject/HeadObject: the policy, the bucket ACL, then (only for a non-owner whom those do
    not let in) the object's own ACL."""
    try:
        buckets.authorize(bucket, req.user_id, action, key)
    except S3Error:
        if not buckets.may_read_by_acl(bucket, req.user_id):
            raise
        async with req.platform.db.session() as session:
            await readable(session, req, bucket, key, version_id, action)

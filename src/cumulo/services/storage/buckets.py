"""Bucket use cases: create, list, look up, authorize, delete, and their settings
(versioning, policy, CORS, tags)."""

from __future__ import annotations

import json
import time
from typing import Any, cast

from sqlalchemy import delete, exists, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.platform import Platform
from cumulo.services.events.service import record
from cumulo.services.quotas import service as quotas
from cumulo.services.storage import acls, policies
from cumulo.services.storage.errors import S3Error, access_denied, no_such_bucket
from cumulo.services.storage.models import Bucket, ObjectVersion, Part, Upload
from cumulo.services.storage.names import check_bucket
from cumulo.services.storage.versions import blob_store

MAX_POLICY = policies.MAX_POLICY
BUCKET_TTL = 2.0
ACTIONS = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation",
           "s3:ListBucketVersions", "s3:GetObjectVersion", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
           "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
           "s3:PutObjectAcl", "s3:GetBucketAcl", "s3:PutBucketAcl", "s3:ListBucketMultipartUploads",
           "s3:GetObjectRetention", "s3:PutObjectRetention", "s3:GetObjectLegalHold", "s3:PutObjectLegalHold",
           "s3:BypassGovernanceRetention", "s3:GetBucketObjectLockConfiguration",
           "s3:PutBucketObjectLockConfiguration"}


async def create_bucket(session: AsyncSession, user_id: str, name: str, *, platform: Any,
                        acl: list[list[str]] | None = None, ownership: str | None = None,
                        object_lock: bool = False) -> Bucket:
    """``object_lock``: created with Object Lock, which turns versioning on for good."""
    check_bucket(name)
    existing = await session.scalar(select(Bucket).where(Bucket.name == name))
    if existing is not None:
        raise _taken(existing, user_id, name)
    await quotas.check(session, platform, user_id, "buckets")
    bucket = Bucket(user_id=user_id, name=name, versioning="Enabled" if object_lock else "", tags={}, acl=acl,
                    ownership=ownership, object_lock={"rule": None} if object_lock else None)
    session.add(bucket)
    record(session, user_id=user_id, action="storage.bucket.created", resource_type="bucket", resource_id=bucket.id,
           name=name)
    try:
        await session.commit()
    except IntegrityError:  # created concurrently
        await session.rollback()
        existing = await session.scalar(select(Bucket).where(Bucket.name == name))
        raise _taken(existing, user_id, name) from None
    return bucket


def _taken(existing: Bucket | None, user_id: str, name: str) -> S3Error:
    if existing is not None and existing.user_id == user_id:
        return S3Error("BucketAlreadyOwnedByYou", f"you already own bucket '{name}'", 409, resource=name)
    return S3Error("BucketAlreadyExists", f"bucket name '{name}' is taken: bucket names are global", 409,
                   resource=name)


async def list_buckets(session: AsyncSession, user_id: str) -> list[Bucket]:
    return list((await session.scalars(select(Bucket).where(Bucket.user_id == user_id).order_by(Bucket.name))).all())


async def get_bucket(session: AsyncSession, name: str) -> Bucket:
    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        raise no_such_bucket(str(name)[:80])
    bucket = await session.scalar(select(Bucket).where(Bucket.name == name))
    if bucket is None:
        raise no_such_bucket(name)
    return bucket


async def lookup(platform: Platform, name: str) -> Bucket:
    """``get_bucket`` through a short per-process cache (the S3 hot path). Changes made in this
    process drop the entry at once (``forget``); other processes see them within ``BUCKET_TTL``."""
    cache: dict[str, tuple[float, Bucket]] = platform.get_or_create("storage.bucket_cache", dict)
    now = time.monotonic()
    hit = cache.get(name)
    if hit is not None and now - hit[0] < BUCKET_TTL:
        return hit[1]
    async with platform.db.session() as session:
        bucket = await get_bucket(session, name)
    if len(cache) > 10000:
        cache.clear()
    cache[name] = (now, bucket)
    return bucket


def forget(platform: Platform, name: str | None) -> None:
    cache: dict[str, Any] = platform.get_or_create("storage.bucket_cache", dict)
    cache.pop(name or "", None)


async def owned_bucket(session: AsyncSession, user_id: str, name: str) -> Bucket:
    """The caller's bucket; someone else's is 'not found', exactly like a missing one (REST API)."""
    bucket = await get_bucket(session, name)
    if bucket.user_id != user_id:
        raise no_such_bucket(name)
    return bucket


def authorize(bucket: Bucket, user_id: str | None, action: str, key: str | None = None,
              grants: list[list[str]] | None = None) -> None:
    """Owner: everything. Anyone else (including anonymous callers): what the bucket policy allows
    (a ``Deny`` wins), else what the bucket's ACL or, for object actions, the object's ACL
    (``grants``) grants; ACLs count unless ownership is ``BucketOwnerEnforced``, public grants and
    policies as the public access block says."""
    if user_id is not None and user_id == bucket.user_id:
        return
    if bucket.policy and action in ACTIONS:
        verdict = policies.verdict(bucket.policy, bucket.name, user_id, action, key)
        if verdict == "Deny":
            raise access_denied()
        if verdict == "Allow" and not (acls.block(bucket, "RestrictPublicBuckets")
                                       and policies.is_public(bucket.policy)):
            return
    if acls.enabled(bucket):
        if action in acls.BUCKET_ACTIONS and acls.grants_allow(bucket, bucket.acl, user_id,
                                                               acls.BUCKET_ACTIONS[action]):
            return
        if action in acls.OBJECT_ACTIONS and acls.grants_allow(bucket, grants, user_id, acls.OBJECT_ACTIONS[action]):
            return
    raise access_denied()


def may_read_by_acl(bucket: Bucket, user_id: str | None) -> bool:
    """Whether the object's ACL or tags (``s3:ExistingObjectTag`` conditions) could still let this
    caller in (worth loading the object for)."""
    return user_id != bucket.user_id and (acls.enabled(bucket) or "ExistingObjectTag" in (bucket.policy or ""))


def policy_is_public(policy: str | None) -> bool:
    return policies.is_public(policy)


def check_policy(bucket: Bucket, text: str) -> str:
    return policies.check(bucket.name, text)


async def set_policy(session: AsyncSession, bucket: Bucket, text: str | None) -> None:
    bucket.policy = check_policy(bucket, text) if text is not None else None
    if acls.block(bucket, "BlockPublicPolicy") and policy_is_public(bucket.policy):
        raise S3Error("AccessDenied", "Access Denied (the bucket's public access block refuses public policies)",
                      403)
    record(session, user_id=bucket.user_id, action="storage.bucket.policy_changed", resource_type="bucket",
           resource_id=bucket.id, public=bool(text))
    await session.commit()


async def set_versioning(session: AsyncSession, bucket: Bucket, status: str) -> None:
    if status not in ("Enabled", "Suspended"):
        raise S3Error("MalformedXML", "versioning Status must be Enabled or Suspended", 400)
    if bucket.object_lock is not None and status != "Enabled":
        raise S3Error("InvalidBucketState", "An Object Lock configuration is present on this bucket, so the "
                      "versioning state cannot be changed.", 409)
    if bucket.versioning == "" and status == "Suspended":
        return
    bucket.versioning = status
    record(session, user_id=bucket.user_id, action="storage.bucket.versioning_changed", resource_type="bucket",
           resource_id=bucket.id, status=status)
    await session.commit()


async def set_object_lock(session: AsyncSession, bucket: Bucket, rule: dict[str, Any] | None) -> None:
    """PutObjectLockConfiguration: the default retention (None: none); it enables Object Lock on an
    existing bucket only when its versioning is Enabled (as S3 does since 2023)."""
    if bucket.object_lock is None and bucket.versioning != "Enabled":
        raise S3Error("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                      "configuration", 409)
    bucket.object_lock = {"rule": rule}
    record(session, user_id=bucket.user_id, action="storage.bucket.object_lock_changed", resource_type="bucket",
           resource_id=bucket.id, rule=rule)
    await session.commit()


async def set_cors(session: AsyncSession, bucket: Bucket, rules: list[dict[str, Any]] | None) -> None:
    bucket.cors = json.dumps(rules) if rules else None
    await session.commit()


async def set_tags(session: AsyncSession, bucket: Bucket, tags: dict[str, str]) -> None:
    bucket.tags = dict(tags)
    await session.commit()


async def delete_bucket(session: AsyncSession, bucket: Bucket, platform: Platform | None = None) -> None:
    """Only object versions and delete markers (what ListObjectVersions shows) keep a bucket: uploads
    in progress are aborted with it, as on S3. Their parts' blobs are removed after the commit."""
    if await session.scalar(select(exists().where(ObjectVersion.bucket_id == bucket.id))):
        raise S3Error("BucketNotEmpty", f"bucket '{bucket.name}' is not empty", 409, resource=bucket.name)
    uploads = select(Upload.id).where(Upload.bucket_id == bucket.id)
    blobs = list((await session.scalars(select(Part.blob_id).where(Part.upload_id.in_(uploads)))).all())
    await session.execute(delete(Part).where(Part.upload_id.in_(uploads)))
    aborted = cast("CursorResult[Any]", await session.execute(delete(Upload).where(Upload.bucket_id == bucket.id))).rowcount
    record(session, user_id=bucket.user_id, action="storage.bucket.deleted", resource_type="bucket",
           resource_id=bucket.id, name=bucket.name, uploads_aborted=aborted)
    await session.delete(bucket)
    await session.commit()
    if platform is not None and blobs:
        await blob_store(platform).delete(*blobs)

"""The bucket that holds a user's database backups: owned by Cumulo (an account of its own, role
``system``, with no usable password), so the user cannot put, overwrite or delete a backup; a
bucket policy lets the user (and only them) list and read it with their S3 credentials.

A bucket's owner may do everything in the storage service, whatever its policy says, which is why
the owner is not the user. The buckets, stored bytes and object-count quotas of that account are
lifted (``quotas.LIMITS``); each user's backups are bounded by their databases' retention instead.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Conflict
from cumulo.core.ids import new_id
from cumulo.platform import Platform
from cumulo.services.identity import service as identity
from cumulo.services.identity.models import User
from cumulo.services.storage import buckets
from cumulo.services.storage.errors import S3Error

if TYPE_CHECKING:
    from cumulo.services.storage.models import Bucket

PREFIX = "cumulo-backups-"
OWNER_EMAIL = "database-backups@system.cumulo.invalid"
CHUNK = 1024 * 1024
READ_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation", "s3:GetObject",
                "s3:GetObjectVersion", "s3:GetObjectTagging"]


async def owner_id(session: AsyncSession) -> str:
    """The id of Cumulo's backup account (made on first use)."""
    found = await session.scalar(select(User.id).where(User.email == OWNER_EMAIL))
    if found:
        return found
    try:
        user = await identity.create_user(session, email=OWNER_EMAIL, password=secrets.token_urlsafe(48),
                                          name="Cumulo database backups", role="system", verified=True)
        await session.commit()
        return user.id
    except Conflict:  # made concurrently
        await session.rollback()
        again = await session.scalar(select(User.id).where(User.email == OWNER_EMAIL))
        if again is None:  # pragma: no cover
            raise
        return again


async def is_owner(session: AsyncSession, user_id: str) -> bool:
    return bool(await session.scalar(select(User.id).where(User.id == user_id, User.email == OWNER_EMAIL)))


def read_only_policy(bucket_name: str, user_id: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DatabaseBackupsReadOnly", "Effect": "Allow", "Principal": {"AWS": [user_id]},
        "Action": READ_ACTIONS, "Resource": [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"]}]})


async def backup_bucket(platform: Platform, session: AsyncSession, user_id: str) -> Bucket:
    """The user's backup bucket, owned by Cumulo, readable by the user (made on first use; a
    squatted name gets a random suffix)."""
    owner = await owner_id(session)
    stem = PREFIX + user_id.replace("-", "")[:20]
    policy = None
    for bucket in await buckets.list_buckets(session, owner):
        if bucket.name.startswith(stem):
            policy = read_only_policy(bucket.name, user_id)
            if bucket.policy != policy:  # e.g. made before the policy was set
                await _grant(platform, session, bucket, policy)
            return bucket
    for name in (stem, f"{stem}-{new_id()[:8]}"):
        try:
            bucket = await buckets.create_bucket(session, owner, name, platform=platform)
        except S3Error as exc:
            if exc.s3_code not in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou"):
                raise
            continue
        await _grant(platform, session, bucket, read_only_policy(name, user_id))
        return bucket
    raise Conflict("no name is free for your backup bucket")  # pragma: no cover


async def _grant(platform: Platform, session: AsyncSession, bucket: Bucket, policy: str) -> None:
    await buckets.set_policy(session, bucket, policy)
    buckets.forget(platform, bucket.name)


def scratch(platform: Platform) -> Path:
    path = platform.settings.data_dir / "databases" / "scratch"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        while True:
            data = await asyncio.to_thread(fh.read, CHUNK)
            if not data:
                return
            yield data
    finally:
        fh.close()

"""Presigned GET URLs for the REST API (``POST /storage/buckets/{bucket}/objects/{key}/presign``):
a SigV4 query-signed URL on Cumulo's own S3 endpoint, signed with one of the caller's S3 credentials
(the newest, or the one named), so it is what boto3's ``generate_presigned_url`` would give and the S3
endpoint checks it as any other: it stops working at its expiry or when that credential is revoked."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core import crypto
from cumulo.core.clock import utcnow
from cumulo.core.errors import Conflict, not_found
from cumulo.platform import Platform
from cumulo.services.storage import credentials
from cumulo.services.storage.models import Credential
from cumulo.services.storage.s3.sigv2 import MAX_EXPIRES
from cumulo.services.storage.s3.sigv4 import ALGORITHM, UNSIGNED, sign, signing_key, uri_encode


class PresignIn(BaseModel):
    expires_in_seconds: int = Field(3600, ge=1, le=MAX_EXPIRES)
    access_key_id: str | None = Field(None, max_length=32)


class PresignOut(BaseModel):
    url: str
    method: str = "GET"
    expires_at: dt.datetime
    access_key_id: str


async def _credential(platform: Platform, session: AsyncSession, user_id: str,
                      access_key_id: str | None) -> tuple[str, str]:
    query = select(Credential).where(Credential.user_id == user_id)
    if access_key_id:
        query = query.where(Credential.access_key_id == access_key_id)
    row = await session.scalar(query.order_by(Credential.created_at.desc()).limit(1))
    if row is None:
        if access_key_id:
            raise not_found("s3 credential", access_key_id)
        raise Conflict("a presigned URL is signed with one of your S3 credentials and you have none: "
                       "create one first (POST /storage/credentials)")
    secret = crypto.unseal(platform, row.secret_sealed, credentials.aad(row.access_key_id)).decode()
    return row.access_key_id, secret


def presigned_get(endpoint: str, region: str, access_key_id: str, secret: str, bucket: str, key: str,
                  expires: int, now: dt.datetime) -> str:
    """The SigV4 presigned GET URL of ``bucket/key`` on the S3 endpoint (path style, host signed)."""
    parts = urlsplit(endpoint)
    path = uri_encode(f"{parts.path.rstrip('/')}/{bucket}/{key}", safe="/-_.~")
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    query = sorted([("X-Amz-Algorithm", ALGORITHM), ("X-Amz-Credential", f"{access_key_id}/{scope}"),
                    ("X-Amz-Date", amz_date), ("X-Amz-Expires", str(expires)), ("X-Amz-SignedHeaders", "host")])
    canonical_query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in query)
    canonical = f"GET\n{path}\n{canonical_query}\nhost:{parts.netloc}\n\nhost\n{UNSIGNED}"
    to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = sign(signing_key(secret, amz_date[:8], region, "s3"), to_sign)
    return f"{parts.scheme}://{parts.netloc}{path}?{canonical_query}&X-Amz-Signature={signature}"


async def presign(platform: Platform, session: AsyncSession, user_id: str, endpoint: str, bucket: str, key: str,
                  body: PresignIn) -> PresignOut:
    access_key_id, secret = await _credential(platform, session, user_id, body.access_key_id)
    now = utcnow().replace(microsecond=0)
    url = presigned_get(endpoint, platform.settings.s3_region, access_key_id, secret, bucket, key,
                        body.expires_in_seconds, now)
    return PresignOut(url=url, expires_at=now + dt.timedelta(seconds=body.expires_in_seconds),
                      access_key_id=access_key_id)

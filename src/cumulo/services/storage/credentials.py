"""Per-user S3 access keys. The secret is shown once and stored sealed with the master key (SigV4
verification needs the secret itself, so a hash would not do); ``resolve`` caches briefly and a
revocation in this process takes effect at once."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core import crypto
from cumulo.core.clock import utcnow
from cumulo.core.errors import not_found
from cumulo.platform import Platform
from cumulo.services.events.service import record
from cumulo.services.quotas import service as quotas
from cumulo.services.storage.models import Credential

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Resolved:
    user_id: str
    secret: str
    credential_id: str


def _new_access_key() -> str:
    return "CMLO" + "".join(secrets.choice(ALPHABET) for _ in range(16))


def aad(access_key_id: str) -> bytes:
    return f"storage-credential:{access_key_id}".encode()


async def create(platform: Platform, session: AsyncSession, user_id: str, name: str = "") -> tuple[Credential, str]:
    await quotas.check(session, platform, user_id, "s3_credentials")
    access_key_id = _new_access_key()
    secret = secrets.token_urlsafe(30)[:40]
    sealed = crypto.seal(platform, secret.encode(), aad(access_key_id))
    row = Credential(user_id=user_id, access_key_id=access_key_id, secret_sealed=sealed, name=name)
    session.add(row)
    record(session, user_id=user_id, action="storage.credential.created", resource_type="s3_credential",
           resource_id=row.id, access_key_id=access_key_id)
    await session.commit()
    return row, secret


async def list_for(session: AsyncSession, user_id: str) -> list[Credential]:
    return list((await session.scalars(select(Credential).where(Credential.user_id == user_id)
                                       .order_by(Credential.created_at))).all())


async def delete(platform: Platform, session: AsyncSession, user_id: str, ident: str) -> None:
    """Revoke by id or by access key id; someone else's is 'not found'."""
    query = select(Credential).where(Credential.user_id == user_id)
    query = query.where(Credential.access_key_id == ident) if ident.startswith("CMLO") else \
        query.where(Credential.id == ident)
    row = await session.scalar(query) if len(ident) <= 64 else None
    if row is None:
        raise not_found("s3 credential", ident[:64])
    record(session, user_id=user_id, action="storage.credential.deleted", resource_type="s3_credential",
           resource_id=row.id, access_key_id=row.access_key_id)
    await session.delete(row)
    await session.commit()
    _cache(platform).pop(row.access_key_id, None)


def _cache(platform: Platform) -> dict[str, tuple[float, Resolved | None]]:
    return platform.get_or_create("storage.credentials", dict)


async def resolve(platform: Platform, access_key_id: str) -> Resolved | None:
    """The user and secret behind an access key id (None when unknown or revoked)."""
    if not access_key_id or len(access_key_id) > 32:
        return None
    cache = _cache(platform)
    now = time.monotonic()
    hit = cache.get(access_key_id)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    async with platform.db.session() as session:
        row = await session.scalar(select(Credential).where(Credential.access_key_id == access_key_id))
        resolved = None
        if row is not None:
            secret = crypto.unseal(platform, row.secret_sealed, aad(access_key_id)).decode()
            resolved = Resolved(user_id=row.user_id, secret=secret, credential_id=row.id)
            await session.execute(update(Credential).where(Credential.id == row.id).values(last_used=utcnow()))
            await session.commit()
    if len(cache) > 10000:
        cache.clear()
    cache[access_key_id] = (now, resolved)
    return resolved

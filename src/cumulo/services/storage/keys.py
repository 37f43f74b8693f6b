"""Master-key rotation: re-seal the secrets of S3 credentials."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import sealed
from cumulo.services.storage.credentials import aad
from cumulo.services.storage.models import Credential


async def rewrap(session: AsyncSession, old_keys: list[bytes], new_key: bytes) -> int:
    return await sealed.rewrap(session, Credential.secret_sealed, lambda row: aad(row.access_key_id), old_keys,
                               new_key)

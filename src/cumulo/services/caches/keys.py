"""Master-key rotation: re-seal the passwords of the caches' management users."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import sealed
from cumulo.services.caches.models import Cache


async def rewrap(session: AsyncSession, old_keys: list[bytes], new_key: bytes) -> int:
    return await sealed.rewrap(session, Cache.admin_sealed, lambda c: c.id.encode(), old_keys, new_key)

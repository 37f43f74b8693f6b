"""Master-key rotation: re-seal instance passwords."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import sealed
from cumulo.services.compute.models import Instance


async def rewrap(session: AsyncSession, old_keys: list[bytes], new_key: bytes) -> int:
    return await sealed.rewrap(session, Instance.password_sealed, lambda inst: inst.id.encode(), old_keys, new_key)

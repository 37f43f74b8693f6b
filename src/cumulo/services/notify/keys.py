"""Master-key rotation: re-seal webhook signing secrets."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import sealed
from cumulo.services.notify.models import Subscription


async def rewrap(session: AsyncSession, old_keys: list[bytes], new_key: bytes) -> int:
    return await sealed.rewrap(session, Subscription.secret_sealed, lambda sub: sub.id.encode(), old_keys, new_key)

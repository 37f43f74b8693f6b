"""Master-key rotation: re-seal app config vars (the app's and each release's)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db import sealed
from cumulo.services.apps.models import App, Release


async def rewrap(session: AsyncSession, old_keys: list[bytes], new_key: bytes) -> int:
    count = await sealed.rewrap(session, App.config_sealed, lambda app: app.user_id.encode(), old_keys, new_key)
    return count + await sealed.rewrap(session, Release.config_sealed, lambda r: r.user_id.encode(), old_keys,
                                       new_key)

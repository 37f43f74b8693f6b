"""Background work: delete secrets whose recovery window has passed."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.secrets import service


def register(platform: Platform) -> None:
    async def purge() -> None:
        async with platform.db.session() as session:
            await service.purge_expired(session)

    platform.runner.every("secrets.purge", 300.0, purge)

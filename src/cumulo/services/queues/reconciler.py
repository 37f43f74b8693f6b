"""Background work of queues: drop messages past their retention period."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.queues import service

RETENTION_SWEEP_SECONDS = 30.0


def register(platform: Platform) -> None:
    async def sweep() -> None:
        async with platform.db.session() as session:
            await service.drop_expired(session)

    platform.runner.every("queues.retention", RETENTION_SWEEP_SECONDS, sweep)

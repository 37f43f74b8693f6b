"""At start: builds cut short by the last shutdown are marked failed (their app says so)."""

from __future__ import annotations

from sqlalchemy import update

from cumulo.core.clock import utcnow
from cumulo.platform import Platform
from cumulo.services.apps.models import Build


async def startup(platform: Platform) -> None:
    async with platform.db.session() as session:
        await session.execute(update(Build).where(Build.status == "building").values(
            status="failed", error="the build was interrupted by a server restart", finished_at=utcnow()))
        await session.commit()

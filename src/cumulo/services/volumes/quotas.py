"""Volume quotas: size (enforced in ``service.provision``) and snapshots (checked in ``snapshots.create``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.quotas.service import Quota, count_of
from cumulo.services.volumes.models import Snapshot, Volume


async def _gib(session: AsyncSession, user_id: str) -> float:
    return float(await session.scalar(select(func.coalesce(func.sum(Volume.size_gb), 0))
                                      .where(Volume.user_id == user_id)) or 0)


QUOTAS = [Quota("volume_gib", "volume_quota_gb", _gib, "GiB", "total size of volumes"),
          Quota("snapshots", "quota_snapshots", count_of(Snapshot), description="volume snapshots")]

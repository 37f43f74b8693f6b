"""Disk quotas (checked in ``service``): how many, and their total virtual size."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.disks.models import Disk
from cumulo.services.quotas.service import Quota, count_of


async def _gib(session: AsyncSession, user_id: str) -> float:
    return int(await session.scalar(select(func.coalesce(func.sum(Disk.size_gb), 0)).where(Disk.user_id == user_id))
               or 0)


QUOTAS = [Quota("disks", "quota_disks", count_of(Disk), description="virtual disks"),
          Quota("disk_gib", "disk_quota_gb", _gib, unit="GiB", description="total virtual size of disks")]

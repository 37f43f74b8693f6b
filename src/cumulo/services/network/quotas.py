"""VPC quota (checked in ``service.create_vpc``; the default VPC is not counted)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.network.models import Vpc
from cumulo.services.quotas.service import Quota


async def _vpcs(session: AsyncSession, user_id: str) -> float:
    return int(await session.scalar(select(func.count()).select_from(Vpc)
                                    .where(Vpc.user_id == user_id, Vpc.default_for.is_(None))) or 0)


QUOTAS = [Quota("vpcs", "quota_vpcs", _vpcs, description="VPCs (the default VPC is not counted)")]

"""Load balancer quota (enforced in ``service.create``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.lb.models import LoadBalancer
from cumulo.services.quotas.service import Quota


async def _count(session: AsyncSession, user_id: str) -> float:
    return float(await session.scalar(select(func.count(LoadBalancer.id)).where(LoadBalancer.user_id == user_id))
                 or 0)


QUOTAS = [Quota("load_balancers", "quota_load_balancers", _count, description="load balancers")]

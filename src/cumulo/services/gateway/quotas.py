"""Gateway quota (enforced in ``service.create``; declared here for ``GET /quotas``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.gateway.models import GatewayRoute
from cumulo.services.quotas.service import Quota


async def _routes(session: AsyncSession, user_id: str) -> float:
    return float(await session.scalar(select(func.count(GatewayRoute.id)).where(GatewayRoute.user_id == user_id))
                 or 0)


QUOTAS = [Quota("routes", "quota_routes", _routes, description="gateway routes")]

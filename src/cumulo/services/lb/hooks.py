"""What load balancers give the gateway: one data-plane route per load balancer (its pool holds
the targets in service), and ``loadbalancer:<id>`` as a gateway route target; and the billing
meter their usage (``cumulo.ports.usage``: billed per hour while they exist)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware
from cumulo.core.errors import NotFound
from cumulo.drivers.proxy.config import Pool, Route
from cumulo.services.gateway import providers
from cumulo.services.lb import pool
from cumulo.services.lb.models import LoadBalancer
from cumulo.services.lb.service import get_lb, targets_of

if TYPE_CHECKING:
    from cumulo.platform import Platform


async def routes(session: AsyncSession, platform: Platform) -> list[Route]:
    lbs = list((await session.scalars(select(LoadBalancer))).all())
    targets = await targets_of(session, [lb.id for lb in lbs])
    return [pool.route_for(lb, targets[lb.id]) for lb in lbs]


async def lb_pool(session: AsyncSession, platform: Platform, user_id: str, ref: str) -> Pool | None:
    try:
        lb = await get_lb(session, user_id, ref)
    except NotFound:
        return None
    return pool.pool_for(lb, (await targets_of(session, [lb.id]))[lb.id])


providers.register("loadbalancer", routes=routes, pool=lb_pool)


async def usage(session: AsyncSession) -> list[ports.Usage]:
    rows = await session.execute(select(LoadBalancer.id, LoadBalancer.user_id, LoadBalancer.name,
                                        LoadBalancer.created_at))
    return [ports.Usage(resource_id=rid, user_id=user_id, name=name, active=True, since=aware(created))
            for rid, user_id, name, created in rows.all()]


ports.usage.add("loadbalancer", ports.Meterable(service="loadbalancers", states=usage))

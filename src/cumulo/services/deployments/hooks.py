"""What deployments give the services below them (through ``cumulo.ports``): a deployment resolved
by id or name for its owner (the metrics service's series of its replicas)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.db.lookup import owned
from cumulo.services.deployments.models import Deployment


async def resolve_deployment(session: AsyncSession, user_id: str, ref: str) -> str:
    return str((await owned(session, Deployment, user_id, ref, "deployment")).id)


ports.resolvers.add("deployment", resolve_deployment)

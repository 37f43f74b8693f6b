"""Instance quotas (enforced in ``service.create_instance``; declared here for ``GET /quotas``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.compute.models import Instance
from cumulo.services.quotas.service import Quota, Usage


def _sum(column: ColumnElement[Any]) -> Usage:
    async def usage(session: AsyncSession, user_id: str) -> float:
        return float(await session.scalar(select(column).where(Instance.user_id == user_id)) or 0)
    return usage


QUOTAS = [
    Quota("instances", "compute_max_instances", _sum(func.count(Instance.id)), description="instances"),
    Quota("instance_vcpus", "compute_max_vcpus", _sum(func.coalesce(func.sum(Instance.cpus), 0.0)), "vCPUs",
          "sum of instance cpus"),
    Quota("instance_memory_mb", "compute_max_memory_mb", _sum(func.coalesce(func.sum(Instance.memory_mb), 0)), "MB",
          "sum of instance memory_mb"),
]

"""Function quotas (checked in ``service.create`` and ``service.update``): how many functions, and the
memory they may hold at once (each function's current memory_mb x max_concurrency, summed), and
the queue event sources feeding them (checked in ``sources.create``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.functions.models import EventSource, Function, FunctionVersion
from cumulo.services.quotas.service import Quota, count_of


async def _memory(session: AsyncSession, user_id: str) -> float:
    return int(await session.scalar(
        select(func.coalesce(func.sum(FunctionVersion.memory_mb * FunctionVersion.max_concurrency), 0))
        .join(Function, (Function.id == FunctionVersion.function_id) & (Function.version == FunctionVersion.version))
        .where(Function.user_id == user_id)) or 0)


QUOTAS = [Quota("functions", "quota_functions", count_of(Function), description="functions"),
          Quota("function_memory_mb", "quota_function_memory_mb", _memory, "MB",
                "sum of memory_mb x max_concurrency over functions"),
          Quota("function_event_sources", "quota_function_event_sources", count_of(EventSource),
                description="queue event sources feeding functions")]

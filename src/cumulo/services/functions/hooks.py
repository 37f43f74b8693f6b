"""What functions add to the services below them: ``function`` as a cron target and as a notify
protocol (imported by ``cumulo.ports.discover`` in every process before those registries are read),
and their usage for the billing meter (``cumulo.ports.usage``): the invocations that ended in a
window, and their GB-seconds (duration times the memory of the version that ran)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.services.functions import triggers
from cumulo.services.functions.models import Function, FunctionVersion, Invocation

triggers.register()


async def consumed(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> list[ports.Consumed]:
    """Per function: the invocations that ran and ended in [start, end), and their GB-seconds."""
    mb_ms = func.sum(func.coalesce(Invocation.duration_ms, 0) * FunctionVersion.memory_mb)
    rows = await session.execute(
        select(Invocation.function_id, Invocation.user_id, Function.name, func.count(), mb_ms)
        .join(Function, Function.id == Invocation.function_id)
        .join(FunctionVersion, and_(FunctionVersion.function_id == Invocation.function_id,
                                    FunctionVersion.version == Invocation.version))
        .where(Invocation.ended_at >= start, Invocation.ended_at < end, Invocation.started_at.is_not(None))
        .group_by(Invocation.function_id, Invocation.user_id, Function.name))
    return [ports.Consumed(resource_id=fid, user_id=user_id, name=name,
                           quantities={"invocations": float(count), "gb_seconds": float(total or 0) / 1024 / 1000})
            for fid, user_id, name, count, total in rows.all()]


ports.usage.add("function", ports.Meterable(service="functions", consumed=consumed))

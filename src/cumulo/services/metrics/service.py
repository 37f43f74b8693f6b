"""Record samples, drop old ones, and answer ``GET /instances/{id}/metrics``."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware, utcnow
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.metrics.models import InstanceMetric
from cumulo.services.metrics.sampler import Sample, Sampler
from cumulo.services.metrics.schemas import MetricPoint, MetricsOut

DEFAULT_WINDOW = dt.timedelta(hours=1)
MAX_POINTS = 5000


def sampler(platform: Platform) -> Sampler:
    def make() -> Sampler:
        made = Sampler(platform.installation_id, getattr(platform.settings, "docker_host", None))
        platform.closers.append(made.close)
        return made
    return platform.get_or_create("metrics.sampler", make)


async def store(session: AsyncSession, samples: list[Sample]) -> None:
    session.add_all([InstanceMetric(instance_id=s.instance_id, user_id=s.user_id, at=s.at,
                                    cpu_percent=s.cpu_percent, memory_bytes=s.memory_bytes,
                                    memory_limit_bytes=s.memory_limit_bytes, pids=s.pids) for s in samples])
    await session.commit()


async def drop_older_than(session: AsyncSession, seconds: int) -> int:
    # an UPDATE/DELETE runs as a CursorResult (execute() is typed as returning any Result)
    result = cast("CursorResult[Any]", await session.execute(delete(InstanceMetric).where(
        InstanceMetric.at < utcnow() - dt.timedelta(seconds=seconds))))
    await session.commit()
    return result.rowcount or 0


async def _instance_id(session: AsyncSession, user: Principal, ref: str) -> str:
    """The caller's instance (compute decides, through ``cumulo.ports``); 404 for anyone else's."""
    return await ports.resolve("instance", session, user.user_id, ref)


async def series(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 since: dt.datetime | None, limit: int = MAX_POINTS) -> MetricsOut:
    instance_id = await _instance_id(session, user, ref)
    start = aware(since) if since else utcnow() - DEFAULT_WINDOW
    rows = (await session.scalars(select(InstanceMetric).where(
        InstanceMetric.instance_id == instance_id, InstanceMetric.user_id == user.user_id,
        InstanceMetric.at > start).order_by(InstanceMetric.at.desc()).limit(limit))).all()
    points = [MetricPoint(time=aware(r.at), cpu_percent=r.cpu_percent, memory_bytes=r.memory_bytes,
                          memory_limit_bytes=r.memory_limit_bytes, pids=r.pids,
                          memory_percent=round(100.0 * r.memory_bytes / r.memory_limit_bytes, 3)
                          if r.memory_limit_bytes else 0.0) for r in reversed(rows)]
    s = platform.settings
    return MetricsOut(instance_id=instance_id, interval_seconds=s.metrics_interval_seconds,
                      retention_seconds=s.metrics_retention_seconds, points=points)

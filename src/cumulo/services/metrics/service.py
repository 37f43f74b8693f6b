"""Record samples, drop old ones, and answer the series: ``GET /instances/{id}/metrics`` and the same
of a database, a cache (their containers' samples) and a deployment (its replicas' samples of each
pass, summed: CPU, memory, limits, processes, and how many replicas were sampled)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
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
                                    memory_limit_bytes=s.memory_limit_bytes, pids=s.pids, group_id=s.group_id)
                     for s in samples])
    await session.commit()


async def drop_older_than(session: AsyncSession, seconds: int) -> int:
    # an UPDATE/DELETE runs as a CursorResult (execute() is typed as returning any Result)
    result = cast("CursorResult[Any]", await session.execute(delete(InstanceMetric).where(
        InstanceMetric.at < utcnow() - dt.timedelta(seconds=seconds))))
    await session.commit()
    return result.rowcount or 0


KINDS = ("instance", "database", "cache", "deployment")


def _point(at: dt.datetime, cpu: float, memory: int, limit: int, pids: int, members: int = 1) -> MetricPoint:
    return MetricPoint(time=aware(at), cpu_percent=round(cpu, 3), memory_bytes=memory, memory_limit_bytes=limit,
                       pids=pids, members=members,
                       memory_percent=round(100.0 * memory / limit, 3) if limit else 0.0)


async def series(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 since: dt.datetime | None, limit: int = MAX_POINTS, kind: str = "instance") -> MetricsOut:
    """The caller's ``kind`` ``ref`` (its owner service resolves it, through ``cumulo.ports``: 404
    for anyone else's), its samples after ``since`` (default: the last hour), the newest ``limit``."""
    resource_id = await ports.resolve(kind, session, user.user_id, ref)
    start = aware(since) if since else utcnow() - DEFAULT_WINDOW
    m = InstanceMetric
    if kind == "deployment":
        rows = (await session.execute(
            select(m.at, func.sum(m.cpu_percent), func.sum(m.memory_bytes), func.sum(m.memory_limit_bytes),
                   func.sum(m.pids), func.count()).where(m.group_id == resource_id, m.user_id == user.user_id,
                                                         m.at > start)
            .group_by(m.at).order_by(m.at.desc()).limit(limit))).all()
        points = [_point(at, float(cpu), int(mem), int(lim), int(pids), int(n))
                  for at, cpu, mem, lim, pids, n in reversed(rows)]
    else:
        found = (await session.scalars(select(m).where(
            m.instance_id == resource_id, m.user_id == user.user_id,
            m.at > start).order_by(m.at.desc()).limit(limit))).all()
        points = [_point(r.at, r.cpu_percent, r.memory_bytes, r.memory_limit_bytes, r.pids) for r in reversed(found)]
    s = platform.settings
    return MetricsOut(resource_type=kind, resource_id=resource_id,
                      instance_id=resource_id if kind == "instance" else None,
                      interval_seconds=s.metrics_interval_seconds, retention_seconds=s.metrics_retention_seconds,
                      points=points)

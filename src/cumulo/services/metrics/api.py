"""``GET /instances/{instance}/metrics?since=``: the recorded CPU/memory series of one of your instances."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.metrics import service
from cumulo.services.metrics.schemas import MetricsOut

router = APIRouter(tags=["metrics"])


@router.get("/instances/{instance}/metrics", response_model=MetricsOut)
async def instance_metrics(
    instance: str, user: UserDep, platform: PlatformDep, session: SessionDep,
    since: dt.datetime | None = Query(None, description="ISO 8601 time; default: the last hour"),
    limit: int = Query(service.MAX_POINTS, ge=1, le=service.MAX_POINTS, description="newest points kept"),
) -> MetricsOut:
    return await service.series(platform, session, user, instance, since, limit)

"""The recorded CPU/memory series of one of your resources, ``?since=`` (default: the last hour) and
``?limit=`` (the newest points):

- ``GET /instances/{instance}/metrics``: an instance (a container or a VM);
- ``GET /databases/{database}/metrics/series`` and ``GET /caches/{cache}/metrics/series``: the
  server's container (``GET /databases/{database}/metrics`` is the engine's figures now);
- ``GET /deployments/{deployment}/metrics``: its replicas' samples of each pass, summed, with how
  many replicas were sampled (``members``)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.metrics import service
from cumulo.services.metrics.schemas import MetricsOut

router = APIRouter(tags=["metrics"])
Since = Query(None, description="ISO 8601 time; default: the last hour")
Limit = Query(service.MAX_POINTS, ge=1, le=service.MAX_POINTS, description="newest points kept")


@router.get("/instances/{instance}/metrics", response_model=MetricsOut)
async def instance_metrics(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                           since: dt.datetime | None = Since, limit: int = Limit) -> MetricsOut:
    return await service.series(platform, session, user, instance, since, limit)


@router.get("/databases/{database}/metrics/series", response_model=MetricsOut)
async def database_metrics(database: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                           since: dt.datetime | None = Since, limit: int = Limit) -> MetricsOut:
    return await service.series(platform, session, user, database, since, limit, kind="database")


@router.get("/caches/{cache}/metrics/series", response_model=MetricsOut)
async def cache_metrics(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                        since: dt.datetime | None = Since, limit: int = Limit) -> MetricsOut:
    return await service.series(platform, session, user, cache, since, limit, kind="cache")


@router.get("/deployments/{deployment}/metrics", response_model=MetricsOut)
async def deployment_metrics(deployment: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                             since: dt.datetime | None = Since, limit: int = Limit) -> MetricsOut:
    return await service.series(platform, session, user, deployment, since, limit, kind="deployment")

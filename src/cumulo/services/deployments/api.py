"""Deployment routes (the seed's CloudContainers). ``{deployment}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.deployments import service
from cumulo.services.deployments.schemas import (
    MAX_REPLICAS,
    DeploymentCreate,
    DeploymentOut,
    DeploymentUpdate,
    ReplicaOut,
    RevisionOut,
)
from cumulo.services.events import service as events
from cumulo.services.events.schemas import EventOut

router = APIRouter(tags=["deployments"])


class ScaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replicas: int = Field(ge=0, le=MAX_REPLICAS)


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: int | None = Field(None, ge=1, description="default: the last revision before the current that "
                                 "completed")


@router.post("/deployments", status_code=201, response_model=DeploymentOut)
async def create(body: DeploymentCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> DeploymentOut:
    """Record the deployment; its replicas start in the background (watch ``status``)."""
    return await service.render(session, await service.create(platform, session, user, body))


@router.get("/deployments", response_model=list[DeploymentOut])
async def list_deployments(user: UserDep, session: SessionDep) -> list[DeploymentOut]:
    return [await service.render(session, d) for d in await service.list_deployments(session, user)]


@router.get("/deployments/{deployment}", response_model=DeploymentOut)
async def get(deployment: str, user: UserDep, session: SessionDep) -> DeploymentOut:
    return await service.render(session, await service.get_deployment(session, user, deployment))


@router.put("/deployments/{deployment}", response_model=DeploymentOut)
@router.patch("/deployments/{deployment}", response_model=DeploymentOut)
async def update(deployment: str, body: DeploymentUpdate, user: UserDep, platform: PlatformDep,
                 session: SessionDep) -> DeploymentOut:
    """Change of image, command, env, ports, resources or health check: a rolling update (a new
    revision); ``replicas`` alone: scale (0 stops every replica)."""
    return await service.render(session, await service.update(platform, session, user, deployment, body))


@router.put("/deployments/{deployment}/replicas", response_model=DeploymentOut)
@router.post("/deployments/{deployment}/scale", response_model=DeploymentOut)
async def scale(deployment: str, body: ScaleIn, user: UserDep, platform: PlatformDep,
                session: SessionDep) -> DeploymentOut:
    dep = await service.update(platform, session, user, deployment, DeploymentUpdate(replicas=body.replicas))
    return await service.render(session, dep)


@router.post("/deployments/{deployment}/rollback", response_model=DeploymentOut)
async def rollback(deployment: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                   body: RollbackIn | None = None) -> DeploymentOut:
    dep = await service.rollback(platform, session, user, deployment, body.revision if body else None)
    return await service.render(session, dep)


@router.delete("/deployments/{deployment}", status_code=204)
async def delete(deployment: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                 keep_volumes: bool = Query(False, description="leave the per-replica volumes to you (detached) "
                                            "instead of deleting them")) -> Response:
    """Every replica drains from its load balancer and goes; then its per-replica volumes (unless
    ``keep_volumes``); then the deployment."""
    await service.delete(platform, session, user, deployment, keep_volumes)
    return Response(status_code=204)


@router.get("/deployments/{deployment}/replicas", response_model=list[ReplicaOut])
async def replicas(deployment: str, user: UserDep, session: SessionDep) -> list[ReplicaOut]:
    return (await service.render(session, await service.get_deployment(session, user, deployment))).members


@router.get("/deployments/{deployment}/revisions", response_model=list[RevisionOut])
async def revisions(deployment: str, user: UserDep, session: SessionDep) -> list[RevisionOut]:
    dep = await service.get_deployment(session, user, deployment)
    return [service.revision_out(r) for r in await service.revisions(session, dep)]


@router.get("/deployments/{deployment}/logs", response_class=PlainTextResponse)
async def logs(deployment: str, user: UserDep, platform: PlatformDep, session: SessionDep,
               tail: int = Query(100, ge=1, le=service.MAX_LOG_LINES),
               replica: str | None = Query(None, max_length=80),
               timestamps: bool = Query(False, description="prefix each line with Docker's RFC 3339 time")
               ) -> PlainTextResponse:
    """The last ``tail`` lines of all replicas merged in time order, each prefixed with the
    replica's name; ``replica``: one replica (name, id or instance id)."""
    return PlainTextResponse(await service.logs(platform, session, user, deployment, tail, replica, timestamps))


@router.get("/deployments/{deployment}/events", response_model=list[EventOut])
async def deployment_events(deployment: str, user: UserDep, session: SessionDep,
                            limit: int = Query(100, ge=1, le=1000)) -> list[EventOut]:
    """What happened to the deployment and its replicas, newest first."""
    dep = await service.get_deployment(session, user, deployment)
    return await events.list_events(session, user.user_id, limit=limit, resource_id=dep.id)

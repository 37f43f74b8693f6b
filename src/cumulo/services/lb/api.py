"""Load balancer routes: ``/loadbalancers`` (``{lb}`` is an id or a name) and their targets."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.lb import metrics, service
from cumulo.services.lb.schemas import (
    LoadBalancerCreate,
    LoadBalancerOut,
    LoadBalancerUpdate,
    MetricsOut,
    TargetsIn,
    TargetsOut,
)

router = APIRouter(tags=["loadbalancers"])


@router.post("/loadbalancers", status_code=201, response_model=LoadBalancerOut)
async def create(body: LoadBalancerCreate, user: UserDep, platform: PlatformDep,
                 session: SessionDep) -> LoadBalancerOut:
    return await service.render_one(platform, session, await service.create(platform, session, user, body))


@router.get("/loadbalancers", response_model=list[LoadBalancerOut])
async def list_all(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[LoadBalancerOut]:
    lbs = await service.list_lbs(session, user)
    targets = await service.targets_of(session, [lb.id for lb in lbs])
    return [service.render(platform, lb, targets[lb.id]) for lb in lbs]


@router.get("/loadbalancers/{lb}", response_model=LoadBalancerOut)
async def get(lb: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> LoadBalancerOut:
    return await service.render_one(platform, session, await service.get_lb(session, user, lb))


@router.patch("/loadbalancers/{lb}", response_model=LoadBalancerOut)
async def update(lb: str, body: LoadBalancerUpdate, user: UserDep, platform: PlatformDep,
                 session: SessionDep) -> LoadBalancerOut:
    return await service.render_one(platform, session, await service.update(platform, session, user, lb, body))


@router.delete("/loadbalancers/{lb}", status_code=204)
async def delete(lb: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete(platform, session, user, lb)
    return Response(status_code=204)


@router.post("/loadbalancers/{lb}/targets", response_model=LoadBalancerOut)
async def add_targets(lb: str, body: TargetsIn, user: UserDep, platform: PlatformDep,
                      session: SessionDep) -> LoadBalancerOut:
    """Register targets (or change their weight); each starts ``initial`` until its first check."""
    found = await service.add_targets(platform, session, user, lb, body.targets)
    return await service.render_one(platform, session, found)


@router.delete("/loadbalancers/{lb}/targets", response_model=LoadBalancerOut)
async def remove_targets(lb: str, body: TargetsOut, user: UserDep, platform: PlatformDep,
                         session: SessionDep) -> LoadBalancerOut:
    """Deregister targets: they take no new requests and go after ``deregistration_delay_seconds``
    (sooner once the proxy has no request in flight to them)."""
    found = await service.remove_targets(platform, session, user, lb, body.targets)
    return await service.render_one(platform, session, found)


@router.delete("/loadbalancers/{lb}/targets/{target_id}", response_model=LoadBalancerOut)
async def remove_target(lb: str, target_id: str, user: UserDep, platform: PlatformDep,
                        session: SessionDep) -> LoadBalancerOut:
    found = await service.remove_target_by_id(platform, session, user, lb, target_id)
    return await service.render_one(platform, session, found)


@router.get("/loadbalancers/{lb}/metrics", response_model=MetricsOut)
async def lb_metrics(lb: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> MetricsOut:
    found = await service.get_lb(session, user, lb)
    targets = (await service.targets_of(session, [found.id]))[found.id]
    return await metrics.for_lb(platform, found, targets)

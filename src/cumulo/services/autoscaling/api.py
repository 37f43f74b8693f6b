"""Auto-scaling group routes (``/autoscaling/groups``). ``{group}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.autoscaling import service
from cumulo.services.autoscaling.schemas import ActivityOut, GroupCreate, GroupOut, GroupUpdate

router = APIRouter(tags=["autoscaling"])


@router.post("/autoscaling/groups", status_code=201, response_model=GroupOut)
async def create(body: GroupCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> GroupOut:
    """Record the group; its members launch in the background."""
    return await service.render(session, await service.create(platform, session, user, body))


@router.get("/autoscaling/groups", response_model=list[GroupOut])
async def list_groups(user: UserDep, session: SessionDep) -> list[GroupOut]:
    return [await service.render(session, g) for g in await service.list_groups(session, user)]


@router.get("/autoscaling/groups/{group}", response_model=GroupOut)
async def get(group: str, user: UserDep, session: SessionDep) -> GroupOut:
    return await service.render(session, await service.get_group(session, user, group))


@router.put("/autoscaling/groups/{group}", response_model=GroupOut)
@router.patch("/autoscaling/groups/{group}", response_model=GroupOut)
async def update(group: str, body: GroupUpdate, user: UserDep, platform: PlatformDep, session: SessionDep) -> GroupOut:
    """Set ``desired_capacity`` (within the bounds), ``min_size`` or ``max_size``."""
    return await service.render(session, await service.update(platform, session, user, group, body))


@router.delete("/autoscaling/groups/{group}", status_code=204)
async def delete(group: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete(platform, session, user, group)
    return Response(status_code=204)


@router.get("/autoscaling/groups/{group}/activities", response_model=list[ActivityOut])
async def activities(group: str, user: UserDep, session: SessionDep,
                     limit: int = Query(100, ge=1, le=service.MAX_ACTIVITIES)) -> list[ActivityOut]:
    """Every scaling activity with its cause, newest first."""
    return await service.activities(session, user, group, limit)

from __future__ import annotations

from fastapi import APIRouter, Query

from cumulo.api.deps import SessionDep, UserDep
from cumulo.services.events import service
from cumulo.services.events.schemas import EventOut

router = APIRouter(tags=["events"])


@router.get("/events", response_model=list[EventOut])
async def list_events(session: SessionDep, user: UserDep, limit: int = Query(50, ge=1, le=1000),
                      resource_id: str | None = Query(None, max_length=64),
                      action: str | None = Query(None, max_length=100)) -> list[EventOut]:
    """The caller's own events, newest first."""
    return await service.list_events(session, user.user_id, limit=limit, resource_id=resource_id, action=action)

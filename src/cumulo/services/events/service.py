"""Record and list events. ``record`` joins the caller's transaction, so an event exists
exactly when the change it describes was committed; the table is also the platform's outbox
(``cumulo.runtime.outbox``: consumers read it from a stored cursor, woken by the commit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.runtime import outbox
from cumulo.services.events.models import EventRow
from cumulo.services.events.schemas import EventOut

_SECRET_WORDS = ("password", "secret", "api_key", "token", "key_hash")


def _scrub(data: dict[str, Any]) -> dict[str, Any]:
    """Belt and braces: no field that looks secret ever reaches the events table."""
    return {k: ("[redacted]" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in data.items()}


def record(session: AsyncSession, *, user_id: str | None, action: str, resource_type: str,
           resource_id: str | None = None, actor_id: str | None = None, **data: Any) -> None:
    session.add(EventRow(user_id=user_id, actor_id=actor_id or user_id, action=action,
                         resource_type=resource_type, resource_id=resource_id, data=_scrub(data)))
    outbox.mark(session)


async def list_events(session: AsyncSession, user_id: str, *, limit: int = 50, resource_id: str | None = None,
                      action: str | None = None) -> list[EventOut]:
    query = select(EventRow).where(EventRow.user_id == user_id)
    if resource_id:
        query = query.where(EventRow.resource_id == resource_id)
    if action:
        query = query.where(EventRow.action == action)
    rows = (await session.scalars(query.order_by(EventRow.created_at.desc(), EventRow.id).limit(limit))).all()
    return [EventOut(id=r.id, action=r.action, resource_type=r.resource_type, resource_id=r.resource_id,
                     actor_id=r.actor_id, data=r.data or {}, created_at=aware(r.created_at)) for r in rows]

"""Finding one of the caller's queues by id or name."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import not_found
from cumulo.services.queues.models import Queue


async def resolve(session: AsyncSession, user_id: str, ref: str) -> Queue:
    """One of the caller's queues by id or by name; anything else (someone else's too) is 404."""
    rows = (await session.scalars(select(Queue).where(Queue.user_id == user_id,
                                                      or_(Queue.id == ref, Queue.name == ref)))).all()
    for q in rows:
        if q.id == ref:
            return q
    if rows:
        return rows[0]
    raise not_found("queue", ref)

"""Finding one of the caller's queues by id or name."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.db.lookup import owned
from cumulo.services.queues.models import Queue


async def resolve(session: AsyncSession, user_id: str, ref: str) -> Queue:
    """One of the caller's queues by id or by name; anything else (someone else's too) is 404."""
    return await owned(session, Queue, user_id, ref, "queue")

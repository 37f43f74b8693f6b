"""Turning a unique-constraint violation into the user's 409, in one place."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Conflict


async def flush_or_conflict(session: AsyncSession, message: str) -> None:
    """Flush pending rows; a concurrent insert that won a unique constraint becomes ``Conflict(message)``
    (the transaction is rolled back, so nothing is half-created)."""
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(message) from exc

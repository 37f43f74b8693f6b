"""Finding one of a user's resources by id or by name: the one lookup every service shares."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import InvalidInput, not_found

T = TypeVar("T")


async def owned(session: AsyncSession, model: type[T], user_id: str, ref: str, kind: str, *where: Any) -> T:
    """The row of ``model`` owned by ``user_id`` whose id or name is ``ref`` (extra ``where`` clauses
    narrow it further). Another user's row is 404, exactly like a missing one; an id wins over a
    name, and a name shared by several rows (where names are not unique) asks for the id."""
    rows = (await session.scalars(select(model).where(
        model.user_id == user_id, or_(model.id == ref, model.name == ref), *where).limit(3))).all()  # type: ignore[attr-defined]
    for row in rows:
        if row.id == ref:  # type: ignore[attr-defined]
            return row
    if len(rows) == 1:
        return rows[0]
    if rows:
        raise InvalidInput(f"several {kind}s are named '{ref}': use the id")
    raise not_found(kind, ref)

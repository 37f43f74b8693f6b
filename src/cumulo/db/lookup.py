"""Finding one of a user's resources by id or by name: the one lookup every service shares."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import InvalidInput, not_found

T = TypeVar("T")
MIN_PREFIX = 4
_ID_CHARS = re.compile(r"[0-9a-f-]+")  # what ids are made of (uuid4 text): no LIKE wildcard can pass


async def owned(session: AsyncSession, model: type[T], user_id: str, ref: str, kind: str, *where: Any) -> T:
    """The row of ``model`` owned by ``user_id`` whose id or name is ``ref`` (extra ``where`` clauses
    narrow it further). Another user's row is 404, exactly like a missing one; an id wins over a
    name, and a name shared by several rows (where names are not unique) asks for the id. When
    nothing has that id or name, a unique prefix of an id (at least ``MIN_PREFIX`` characters, as
    tables and git show short ids) finds the row; a prefix several of the user's ids share is 400,
    naming them."""
    rows = (await session.scalars(select(model).where(
        model.user_id == user_id, or_(model.id == ref, model.name == ref), *where).limit(3))).all()  # type: ignore[attr-defined]
    for row in rows:
        if row.id == ref:  # type: ignore[attr-defined]
            return row
    if len(rows) == 1:
        return rows[0]
    if rows:
        raise InvalidInput(f"several {kind}s are named '{ref}': use the id")
    if len(ref) >= MIN_PREFIX and _ID_CHARS.fullmatch(ref):
        rows = (await session.scalars(select(model).where(
            model.user_id == user_id, model.id.startswith(ref), *where).limit(6))).all()  # type: ignore[attr-defined]
        if len(rows) == 1:
            return rows[0]
        if rows:
            ids = ", ".join(sorted(row.id for row in rows)[:5])  # type: ignore[attr-defined]
            raise InvalidInput(f"the id prefix '{ref}' matches several of your {kind}s ({ids}): give more of it")
    raise not_found(kind, ref)

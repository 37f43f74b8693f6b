"""Server-side search, filter and pagination of a list endpoint (``?q=&status=&limit=&offset=``), so
a list of thousands of resources answers one page: ``Page`` is what the caller asked, ``page(...)``
runs a SELECT of the caller's rows with it and returns the page's rows with the total that matched.

Without ``limit`` a list answers every match, as before (the CLI and SDK read whole lists); the API
adds ``X-Total-Count`` and, when more follow, a ``Link: <...>; rel="next"`` header (``cumulo.api.deps``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    q: str | None = None  # a case-insensitive substring of any searched column
    status: str | None = None  # exactly this status (case-insensitive)
    limit: int | None = None  # at most this many rows (1..MAX_LIMIT); None: every match
    offset: int = 0  # rows skipped, in the list's order

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.status)


def narrowed(stmt: Select[Any], page: Page, search: Sequence[Any], status: Any | None = None) -> Select[Any]:
    """``stmt`` with the page's search over the ``search`` columns and its status filter."""
    if page.q and page.q.strip():
        needle = page.q.strip().lower()
        stmt = stmt.where(or_(*(func.lower(col).contains(needle, autoescape=True) for col in search)))
    if page.status and status is not None:
        stmt = stmt.where(func.lower(status) == page.status.strip().lower())
    return stmt


async def page(session: AsyncSession, stmt: Select[Any], page: Page, search: Sequence[Any],
               status: Any | None = None) -> tuple[list[Any], int]:
    """(the page's rows of ``stmt``, ordered as ``stmt`` is, and how many rows matched in all)."""
    stmt = narrowed(stmt, page, search, status)
    total = int(await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    if page.limit is not None:
        stmt = stmt.limit(page.limit)
    if page.offset:
        stmt = stmt.offset(page.offset)
    rows = list((await session.scalars(stmt)).all()) if page.limit != 0 else []
    return rows, total

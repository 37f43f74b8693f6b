"""Listing by index: each page is a few range scans over ``(bucket_id, key) WHERE is_latest``.

With a delimiter, a key that rolls up into a common prefix makes the scan jump past that prefix
(``key >= successor(prefix)``), so a folder of a million objects costs one row, not a million.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.storage.models import Bucket, ObjectVersion
from cumulo.services.storage.names import successor

MAX_KEYS = 1000


@dataclass
class Page:
    objects: list[ObjectVersion] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or prefix returned (the next marker)
    last_version: str | None = None


def _range(query: Select, prefix: str, after: str | None, inclusive: bool = False) -> Select:  # type: ignore[type-arg]
    col = ObjectVersion.key
    if prefix:
        query = query.where(col >= prefix)
        upper = successor(prefix)
        if upper is not None:
            query = query.where(col < upper)
    if after is not None:
        query = query.where(col >= after if inclusive else col > after)
    return query


async def list_objects(session: AsyncSession, bucket: Bucket, *, prefix: str = "", delimiter: str = "",
                       after: str | None = None, max_keys: int = MAX_KEYS) -> Page:
    col = ObjectVersion.key
    cursor: Any = None if after is None else col > after
    if after is not None and prefix and after < prefix:
        cursor = None
    elif after is not None and delimiter and after.startswith(prefix):
        cut = after.find(delimiter, len(prefix))
        if cut >= 0:  # the marker is (inside) a common prefix already returned: skip all of it
            upper = successor(after[:cut + len(delimiter)])
            if upper is None:
                return Page()
            cursor = col >= upper
    base = _range(select(ObjectVersion).where(ObjectVersion.bucket_id == bucket.id, ObjectVersion.is_latest.is_(True),
                                              ObjectVersion.is_delete_marker.is_(False)), prefix, None)
    return await _walk(session, base, (col,), cursor, lambda row: col > row.key,
                       prefix=prefix, delimiter=delimiter, max_keys=max_keys)


async def list_versions(session: AsyncSession, bucket: Bucket, *, prefix: str = "", delimiter: str = "",
                        key_marker: str | None = None, version_marker: str | None = None,
                        max_keys: int = MAX_KEYS) -> Page:
    """Every version and delete marker, by key then newest first."""
    col, seq = ObjectVersion.key, ObjectVersion.seq
    base = _range(select(ObjectVersion).where(ObjectVersion.bucket_id == bucket.id), prefix, None)
    cursor = await _version_cursor(session, bucket, prefix, delimiter, key_marker, version_marker)
    return await _walk(session, base, (col, seq.desc()), cursor,
                       lambda row: (col > row.key) | ((col == row.key) & (seq < row.seq)),
                       prefix=prefix, delimiter=delimiter, max_keys=max_keys)


async def _walk(session: AsyncSession, base: Select, order: tuple[Any, ...], cursor: Any,  # type: ignore[type-arg]
                after_row: Callable[[ObjectVersion], Any], *, prefix: str, delimiter: str, max_keys: int) -> Page:
    """One page of rows from ``cursor`` on, in ``order``. With a delimiter, keys that roll up into a
    common prefix give one entry (counted in ``max_keys``) and the scan jumps past the prefix."""
    page = Page()
    max_keys = max(0, min(max_keys, MAX_KEYS))
    count = 0
    while 0 < max_keys and count <= max_keys:
        want = max_keys - count + 1
        query = base.where(cursor) if cursor is not None else base
        rows = (await session.scalars(query.order_by(*order).limit(want))).all()
        jumped = False
        for row in rows:
            if count == max_keys:
                page.truncated = True
                return page
            rest = row.key[len(prefix):]
            cut = rest.find(delimiter) if delimiter else -1
            if cut >= 0:
                common = prefix + rest[:cut + len(delimiter)]
                if common != page.last:
                    page.prefixes.append(common)
                    page.last, page.last_version = common, None
                    count += 1
                upper = successor(common)
                if upper is None:
                    return page
                cursor, jumped = ObjectVersion.key >= upper, True
                break
            page.objects.append(row)
            page.last, page.last_version = row.key, row.version_id
            count += 1
        if not jumped:
            if len(rows) < want:
                return page
            cursor = after_row(rows[-1])
    return page


async def _version_cursor(session: AsyncSession, bucket: Bucket, prefix: str, delimiter: str,
                          key_marker: str | None, version_marker: str | None) -> Any:
    """Where a page of versions starts: after the key marker (and its version marker), or past the
    whole common prefix when the marker is one."""
    if key_marker is None:
        return None
    col = ObjectVersion.key
    if delimiter and key_marker.startswith(prefix):
        cut = key_marker.find(delimiter, len(prefix))
        if cut >= 0:
            upper = successor(key_marker[:cut + len(delimiter)])
            return col >= upper if upper is not None else col > key_marker
    marker_seq = None
    if version_marker:
        marker_seq = await session.scalar(select(ObjectVersion.seq).where(
            ObjectVersion.bucket_id == bucket.id, col == key_marker, ObjectVersion.version_id == version_marker))
    if marker_seq is None:
        return col > key_marker
    return (col > key_marker) | ((col == key_marker) & (ObjectVersion.seq < marker_seq))

"""Hot-path reads of the S3 endpoint (latest object version, bucket by name, credential by access
key) through ``Database.read``: on SQLite a plain sqlite3 connection in the event loop's thread
(WAL readers never wait for the writer, a point lookup takes tens of microseconds), on PostgreSQL
the process's asyncpg pool. Statements are prepared ``Query`` objects (compiled once per dialect);
JSON columns come back decoded on both databases.

Rows come back as ``Row``: attribute access like the ORM objects they stand in for, never attached
to a session (read-only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from cumulo.db.base import table
from cumulo.db.query import Query
from cumulo.platform import Platform
from cumulo.services.storage.models import Bucket, Credential, ObjectVersion


class Row:
    """A read-only record with the attributes of the given columns."""

    __slots__ = ("__dict__",)

    def __init__(self, names: tuple[str, ...], values: Any):
        self.__dict__.update(zip(names, values, strict=True))

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...


class _Read:
    def __init__(self, statement: Any):
        self.statement = statement
        self.names = tuple(c.key for c in statement.selected_columns)
        self.prepared = Query(statement)

    async def rows(self, platform: Platform, **values: Any) -> list[Row]:
        return [Row(self.names, r) for r in await platform.db.read(self.prepared, **values)]

    async def one(self, platform: Platform, **values: Any) -> Row | None:
        rows = await self.rows(platform, **values)
        return rows[0] if rows else None


_OBJ = table(ObjectVersion)
_LATEST = _Read(select(_OBJ).where(_OBJ.c.bucket_id == bindparam("bucket_id"), _OBJ.c.key == bindparam("key"),
                                   _OBJ.c.is_latest.is_(True)))
_BUCKET = _Read(select(table(Bucket)).where(table(Bucket).c.name == bindparam("name")))
_CRED = _Read(select(table(Credential)).where(table(Credential).c.access_key_id == bindparam("access_key_id")))


async def latest_version(platform: Platform, bucket_id: str, key: str) -> Row | None:
    return await _LATEST.one(platform, bucket_id=bucket_id, key=key)


async def bucket_by_name(platform: Platform, name: str) -> Row | None:
    return await _BUCKET.one(platform, name=name)


async def credential_by_access_key(platform: Platform, access_key_id: str) -> Row | None:
    return await _CRED.one(platform, access_key_id=access_key_id)

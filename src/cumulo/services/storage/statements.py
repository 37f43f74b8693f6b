"""The SQL of the version write path (``versions.py``), written once for both databases and run by
the database's statement lane (``cumulo.db.lane``) as the steps of one transaction per batch:

1. ``CURRENT`` for a conditional write (``If-Match``/``If-None-Match``), checked after the keys' locks;
2. per bucket, ``DROP_NULL`` (unversioned or suspended buckets: the "null" version of the keys is
   replaced; its blob ids come back for removal after the commit) and ``DEMOTE`` (versioned or
   suspended buckets: the keys' latest versions stop being latest);
3. ``INSERT_VERSION``, once per new row (``executemany``).

Key lists are one parameter (``any_of``), so each statement compiles once whatever the batch's size.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from cumulo.db.base import table
from cumulo.db.query import Query, any_of
from cumulo.services.storage.models import ObjectVersion, RequestUsage

OV = table(ObjectVersion)
_SAME_KEYS = (OV.c.bucket_id == bindparam("bucket_id"), any_of(OV.c.key, "keys"))

CURRENT = Query(select(OV.c.etag, OV.c.is_delete_marker)
                .where(OV.c.bucket_id == bindparam("bucket_id"), OV.c.key == bindparam("key"), OV.c.is_latest))
DROP_NULL = Query(delete(OV).where(*_SAME_KEYS, OV.c.version_id == "null").returning(OV.c.blob_id))
DEMOTE = Query(update(OV).where(*_SAME_KEYS, OV.c.is_latest).values(is_latest=False))
INSERT_VERSION = Query(insert(OV).values({c.key: bindparam(f"v_{c.key}", type_=c.type) for c in OV.columns}))


def version_values(row: ObjectVersion) -> dict[str, Any]:
    """The parameters of ``INSERT_VERSION`` for a new row."""
    return {f"v_{c.key}": getattr(row, c.key) for c in OV.columns}


_ADD_REQUESTS: dict[str, Any] = {}


def add_requests(dialect: str) -> Any:
    """Add the counts of ``requests.flush`` to their bucket's row of the minute (made if none): an
    upsert, executed with one parameter set per bucket."""
    stmt = _ADD_REQUESTS.get(dialect)
    if stmt is None:
        from sqlalchemy.dialects import postgresql, sqlite

        t = table(RequestUsage)
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(t)
        stmt = _ADD_REQUESTS[dialect] = ins.on_conflict_do_update(
            index_elements=[t.c.bucket_id, t.c.minute],
            set_={"put_requests": t.c.put_requests + ins.excluded.put_requests,
                  "get_requests": t.c.get_requests + ins.excluded.get_requests})
    return stmt

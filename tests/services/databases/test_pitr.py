"""Point-in-time recovery of a managed PostgreSQL database on real containers: WAL archived into the
backup bucket, a base backup, then a restore to a noted time makes a NEW database holding only the
rows committed before that time; a time outside the recovery window is 400 and creates nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest

from cumulo.client import ApiError
from tests.services.databases.conftest import Stack
from tests.services.databases.test_postgres import connect
from tests.services.storage.conftest import s3_client

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("databases-pitr")]


def restore_at(stack: Stack, db: dict[str, Any], when: str, name: str) -> dict[str, Any]:
    return stack.client.databases.c.post(f"/databases/{db['id']}/restore",  # type: ignore[no-any-return]
                                         {"restore_time": when, "name": name, "public": True}, timeout=300)


def test_restore_to_a_time_sees_only_the_rows_committed_before_it(stack: Stack) -> None:
    db = stack.client.databases.create("ledger", "postgres", public=True, storage_gb=1, memory_mb=256)
    with connect(db, db["password"]) as conn:
        assert conn.execute("SHOW archive_mode").fetchone() == ("on",)
        assert int(conn.execute("SHOW archive_timeout").fetchone()[0].rstrip("min s")) <= 300  # type: ignore[index]
        conn.execute("CREATE TABLE entries (id int PRIMARY KEY)")
    stack.client.databases.backup(db["id"])  # a logical dump, and the base backup PITR starts from
    kinds = sorted(b["kind"] for b in stack.client.databases.backups(db["id"]))
    assert kinds == ["base", "manual"]
    with connect(db, db["password"]) as conn:
        conn.execute("INSERT INTO entries SELECT generate_series(1, 100)")
        noted = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO entries SELECT generate_series(101, 150)")
        conn.execute("SELECT pg_switch_wal()")

    before = {d["name"] for d in stack.client.databases.list()}
    for bad in ((noted + dt.timedelta(days=1)).isoformat(), "2001-01-01T00:00:00Z"):
        with pytest.raises(ApiError) as err:
            restore_at(stack, db, bad, "ledger-never")
        assert err.value.status == 400 and "recovery window" in err.value.message
    with pytest.raises(ApiError) as err:
        stack.client.databases.c.post(f"/databases/{db['id']}/restore", {"name": "ledger-never"})
    assert err.value.status == 400  # neither backup_id nor restore_time
    with pytest.raises(ApiError) as err:
        stack.client.databases.c.post(f"/databases/{db['id']}/restore", {"name": "ledger-never", "backup_id": "x",
                                                                          "restore_time": noted.isoformat()})
    assert err.value.status == 400  # both
    with pytest.raises(ApiError) as err:
        restore_at(stack, {"id": "no-such-database"}, noted.isoformat(), "ledger-never")
    assert err.value.status == 404
    assert {d["name"] for d in stack.client.databases.list()} == before  # nothing was created

    copy = restore_at(stack, db, noted.isoformat(), "ledger-then")
    stack.passwords.append(copy["password"])
    assert copy["id"] != db["id"] and copy["status"] == "available"
    with connect(copy, copy["password"]) as conn:
        assert conn.execute("SELECT count(*), max(id) FROM entries").fetchone() == (100, 100)
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        conn.execute("INSERT INTO entries VALUES (1000)")  # a promoted, writable server
    with pytest.raises(psycopg.OperationalError):
        connect(copy, db["password"])  # the source's password does not open the copy
    with connect(db, db["password"]) as conn:
        assert conn.execute("SELECT count(*) FROM entries").fetchone() == (150,)  # the source is untouched

    backup = next(b for b in stack.client.databases.backups(db["id"]) if b["kind"] == "base")
    s3 = s3_client(stack.live, stack.client.storage.create_credentials("pitr"))
    wal = s3.list_objects_v2(Bucket=backup["bucket"], Prefix=f"ledger-{db['id'][:8]}/wal/").get("Contents", [])
    assert wal and all(o["Key"].endswith(".gz") for o in wal)  # the archive is in the (read-only) backup bucket

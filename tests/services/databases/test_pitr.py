"""Point-in-time recovery of a managed PostgreSQL database on real containers: WAL archived into the
backup bucket, a base backup, then a restore to a noted time makes a NEW database holding only the
rows committed before that time; a time outside the recovery window is 400 and creates nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cumulo.client import ApiError
from cumulo.services.databases import reconciler
from tests.services.databases.conftest import Stack
from tests.services.databases.test_postgres import connect
from tests.services.storage.conftest import s3_client

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("databases-pitr")]


def restore_at(stack: Stack, db: dict[str, Any], when: str | dt.datetime, name: str) -> dict[str, Any]:
    return stack.client.databases.restore(db["id"], name=name, public=True, restore_time=when)


def cli_restore_at(stack: Stack, db: dict[str, Any], when: str, name: str, tmp_path: Path) -> Any:
    """``cumulo db restore DB --time WHEN --name NAME --public --json``."""
    from typer.testing import CliRunner

    from cumulo.cli.main import app

    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": stack.live.url, "CUMULO_API_KEY": stack.client.api_key or ""}
    return CliRunner().invoke(app, ["db", "restore", db["name"], "--time", when, "--name", name, "--public",
                                    "--json"], env=env)


def said(text: str) -> str:
    """The CLI's words without the line wrapping and the box of its error panel."""
    return " ".join(text.replace("│", " ").split())


def test_restore_to_a_time_sees_only_the_rows_committed_before_it(stack: Stack, tmp_path: Path) -> None:
    db = stack.client.databases.create("ledger", "postgres", public=True, storage_gb=1, memory_mb=256)
    with connect(db, db["password"]) as conn:
        assert conn.execute("SHOW archive_mode").fetchone() == ("on",)
        timeout = conn.execute("SELECT setting, unit FROM pg_settings WHERE name = 'archive_timeout'").fetchone()
        assert timeout is not None and timeout[1] == "s"
        # archived on its disk at least that often, shipped to the bucket within the backups loop's
        # interval: at most 5 minutes of committed data at risk in all
        assert 0 < int(timeout[0]) and int(timeout[0]) + reconciler.BACKUP_INTERVAL <= 300
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
    for bad in (noted + dt.timedelta(days=1), "2001-01-01T00:00:00Z"):
        with pytest.raises(ApiError) as err:
            restore_at(stack, db, bad, "ledger-never")
        assert err.value.status == 400 and "recovery window" in err.value.message
    outside = cli_restore_at(stack, db, "2001-01-01T00:00:00Z", "ledger-never", tmp_path)
    assert outside.exit_code == 1 and "recovery window" in said(outside.output)
    for malformed in ("yesterday", "2026-13-45T99:00:00Z"):
        refused = cli_restore_at(stack, db, malformed, "ledger-never", tmp_path)
        assert refused.exit_code == 2 and "not an ISO 8601 time" in said(refused.output)
    with pytest.raises(ValueError):
        stack.client.databases.restore(db["id"], "some-backup", "ledger-never", restore_time=noted)  # not both
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

    when = noted.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as a person types it: UTC, with Z
    made = cli_restore_at(stack, db, when, "ledger-then", tmp_path)
    assert made.exit_code == 0, made.output
    copy = json.loads(made.stdout)
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
    assert copy["restored_from"] == backup["id"]  # recovered from the base backup and its WAL
    s3 = s3_client(stack.live, stack.client.storage.create_credentials("pitr"))
    wal = s3.list_objects_v2(Bucket=backup["bucket"], Prefix=f"ledger-{db['id'][:8]}/wal/").get("Contents", [])
    assert wal and all(o["Key"].endswith(".gz") for o in wal)  # the archive is in the (read-only) backup bucket

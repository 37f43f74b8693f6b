"""A database too busy to take a lock in time is a 503 with Retry-After (the client may retry), never a
500: a real SQLite write lock held by another connection, and PostgreSQL's deadlock/serialization codes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cumulo.api import errors


def app_raising(make_error) -> TestClient:  # type: ignore[no-untyped-def]
    app = FastAPI()
    errors.install(app)

    @app.post("/write")
    def write() -> dict[str, str]:
        make_error()
        return {"ok": "yes"}

    return TestClient(app, raise_server_exceptions=False)


def test_sqlite_locked_by_another_writer_is_503_with_retry_after(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x int)")
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction, not ended
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})

    def write_now() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))

    try:
        r = app_raising(write_now).post("/write")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["code"] == "UNAVAILABLE" and "busy" in r.json()["error"]["message"]


class DeadlockDetected(Exception):  # what asyncpg raises: an exception with the SQLSTATE
    sqlstate = "40P01"


def test_a_postgresql_deadlock_or_serialization_failure_is_503() -> None:
    def deadlock() -> None:
        raise DeadlockDetected("deadlock detected")

    r = app_raising(deadlock).post("/write")
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


def test_other_database_errors_stay_500() -> None:
    def broken() -> None:
        raise sqlite3.OperationalError("no such table: t")

    assert app_raising(broken).post("/write").status_code == 500


class TooManyConnections(Exception):  # asyncpg's TooManyConnectionsError carries SQLSTATE 53300
    sqlstate = "53300"


def test_postgresql_out_of_connection_slots_is_503() -> None:
    def refused() -> None:
        raise RuntimeError("the pool could not connect") from TooManyConnections("sorry, too many clients already")

    r = app_raising(refused).post("/write")
    assert r.status_code == 503 and r.headers["retry-after"] == "1"

"""The statement lane (``db.lane``, ``cumulo.db.lane``) on SQLite and PostgreSQL: one statement, a
batch as one transaction (all or nothing, with an overlapped wait, advisory locks), one conversion
policy (what the lane writes reads back the same through SQLAlchemy and the other way round), the
same integrity error on both, list parameters; and the in-memory SQLite URL refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    type_coerce,
)
from sqlalchemy.exc import IntegrityError

from cumulo.db.engine import Database
from cumulo.db.query import Query, Step, any_of
from cumulo.platform import build_platform
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for

META = MetaData()
PROBE = Table("lane_probe", META,
              Column("id", String(36), primary_key=True),
              Column("parent", String(36), ForeignKey("lane_probe.id"), nullable=True),
              Column("doc", JSON, nullable=True),
              Column("at", DateTime(timezone=True), nullable=True),
              Column("flag", Boolean, nullable=True))

ADD = Query(insert(PROBE).values(id=bindparam("id"), parent=bindparam("parent"), doc=bindparam("doc", type_=JSON),
                                 at=bindparam("at", type_=PROBE.c.at.type), flag=bindparam("flag", type_=Boolean)))
GET = Query(select(PROBE.c.doc, PROBE.c.at, PROBE.c.flag).where(PROBE.c.id == bindparam("id")))
IDS_OF = Query(select(PROBE.c.id).where(any_of(PROBE.c.id, "ids")).order_by(PROBE.c.id))
DROP = Query(delete(PROBE).where(any_of(PROBE.c.id, "ids")).returning(PROBE.c.id))
ECHO_JSON = Query(select(type_coerce(bindparam("doc", type_=JSON), JSON).label("doc")))
DOC = {"name": "x", "list": [1, "two", None, True], "nested": {"k": "v"}}


@pytest.fixture
def db(server: LiveServer) -> Iterator[Database]:
    database = server.platform.db

    async def create() -> None:
        async with database.engine.begin() as conn:
            await conn.run_sync(META.create_all)

    server.call(create())
    yield database


def new_id() -> str:
    return str(uuid.uuid4())


def test_a_json_parameter_is_encoded_once(server: LiveServer) -> None:
    """Was: on PostgreSQL, the column type's bind processor and the pool's codec both encoded it,
    so a dict came back as the string of its JSON."""
    assert server.call(server.platform.db.read(ECHO_JSON, doc=DOC)) == [(DOC,)]
    assert server.call(server.platform.db.read(ECHO_JSON, doc=["a", 1])) == [(["a", 1],)]


def test_what_the_lane_writes_reads_back_the_same_through_sqlalchemy(server: LiveServer, db: Database) -> None:
    pid, at = new_id(), dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)

    async def main() -> tuple[Any, Any]:
        await db.lane.rows(ADD, id=pid, parent=None, doc=DOC, at=at, flag=True)
        async with db.engine.connect() as conn:
            through_engine = (await conn.execute(select(PROBE.c.doc, PROBE.c.at, PROBE.c.flag)
                                                 .where(PROBE.c.id == pid))).one()
        return through_engine, await db.lane.rows(GET, id=pid)

    through_engine, through_lane = server.call(main())
    assert through_engine[0] == DOC and through_lane[0][0] == DOC
    assert through_engine[1].replace(tzinfo=dt.UTC) == at and through_lane[0][1].replace(tzinfo=dt.UTC) == at
    assert through_engine[2] is True and through_lane[0][2] is True


def test_a_unique_violation_is_the_same_error_on_both_databases(server: LiveServer, db: Database) -> None:
    pid = new_id()
    server.call(db.lane.rows(ADD, id=pid, parent=None, doc=None, at=None, flag=None))
    with pytest.raises(IntegrityError):
        server.call(db.lane.rows(ADD, id=pid, parent=None, doc=None, at=None, flag=None))
    with pytest.raises(IntegrityError):  # a foreign key, inside a batch
        server.call(db.lane.batch([Step(ADD, {"id": new_id(), "parent": new_id(), "doc": None, "at": None,
                                              "flag": None})]))


def test_list_parameters_take_any_length(server: LiveServer, db: Database) -> None:
    ids = sorted(new_id() for _ in range(3))
    server.call(db.lane.batch([Step(ADD, many=[{"id": i, "parent": None, "doc": None, "at": None, "flag": None}
                                               for i in ids])]))
    assert [r[0] for r in server.call(db.lane.rows(IDS_OF, ids=ids))] == ids
    assert [r[0] for r in server.call(db.lane.rows(IDS_OF, ids=[ids[1], "nobody"]))] == [ids[1]]
    assert server.call(db.lane.rows(IDS_OF, ids=[])) == []
    assert sorted(r[0] for r in server.call(db.lane.rows(DROP, ids=ids))) == ids


def test_a_batch_commits_all_its_steps_or_none(server: LiveServer, db: Database) -> None:
    first, second = new_id(), new_id()

    def row(pid: str, parent: str | None = None) -> dict[str, Any]:
        return {"id": pid, "parent": parent, "doc": None, "at": None, "flag": None}

    def refuse(_rows: list[tuple[Any, ...]]) -> None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):  # a check fails after two writes
        server.call(db.lane.batch([Step(ADD, row(first)), Step(ADD, many=[row(second, first)]),
                                   Step(IDS_OF, {"ids": [first]}, check=refuse)]))
    assert server.call(db.lane.rows(IDS_OF, ids=[first, second])) == []
    out = server.call(db.lane.batch([Step(ADD, row(first)), Step(ADD, many=[row(second, first)]),
                                     Step(DROP, {"ids": [second]})]))
    assert out == [[], [], [(second,)]]
    assert server.call(db.lane.rows(IDS_OF, ids=[first, second])) == [(first,)]


def test_a_failed_overlap_commits_nothing_and_leaves_the_pool_usable(server: LiveServer, db: Database) -> None:
    pid = new_id()

    async def fails() -> None:
        await asyncio.sleep(0)
        raise OSError("disk full")

    async def main() -> None:
        with pytest.raises(OSError, match="disk full"):
            await db.lane.batch([Step(ADD, {"id": pid, "parent": None, "doc": None, "at": None, "flag": None})],
                                locks=[pid], overlap=fails())
        for _ in range(20):  # every pooled connection is usable (no transaction left open)
            await db.lane.batch([Step(IDS_OF, {"ids": [pid]})], locks=[pid])

    server.call(main())
    assert server.call(db.lane.rows(IDS_OF, ids=[pid])) == []


def test_a_batch_holds_its_locks_until_it_commits(server: LiveServer, db: Database) -> None:
    """PostgreSQL: while a batch waits for its overlap, another session cannot take its lock; once
    it committed, it can."""
    if not db.is_postgres:
        pytest.skip("advisory locks are PostgreSQL's (SQLite's BEGIN IMMEDIATE holds the one write lock)")
    name = f"lane-test/{new_id()}"
    url = server.settings.resolved_database_url.replace("postgresql+asyncpg", "postgresql")

    def taken_elsewhere() -> bool:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (name,)).fetchone()
            return row is not None and not row[0]

    seen: list[bool] = []

    async def overlap() -> None:  # the batch cannot commit before this returns
        for _ in range(500):
            if await asyncio.to_thread(taken_elsewhere):
                seen.append(True)
                return
            await asyncio.sleep(0.01)

    server.call(db.lane.batch([Step(IDS_OF, {"ids": [name]})], locks=[name], overlap=overlap()))
    assert seen == [True]
    assert not taken_elsewhere()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "sqlite+aiosqlite:///:memory:",
                                 "sqlite+aiosqlite:///file:cumulo?mode=memory&cache=shared&uri=true",
                                 "sqlite+aiosqlite:///file::memory:?cache=shared&uri=true"])
def test_an_in_memory_sqlite_url_is_refused_at_start(url: str, tmp_path: Any, monkeypatch: Any) -> None:
    """Was: a TypeError from the engine, or (shared-cache URI) a server whose authentication read an
    empty file named ``file::memory:``, so no request could authenticate. Refused before any file
    is made (the refusal once left ``sqlite:`` and ``file:cumulo`` in the working directory)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="in-memory SQLite database cannot be used"):
        Database(url)
    with pytest.raises(ValueError, match="in-memory SQLite database cannot be used"):
        build_platform(settings_for(str(tmp_path / "data"), url))
    assert [p.name for p in tmp_path.iterdir() if p.name != "data"] == []

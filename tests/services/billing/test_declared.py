"""Billing of the resources whose usage their service declares (``cumulo.ports.usage``): managed
databases and caches per second while available (by cpus and memory), load balancers per hour while
they exist, functions by invocations and GB-seconds. Driven by the resources' own rows and events
and the test clock, on both databases; no Docker: the rows of databases, caches and functions are
written as their services write them (status, size, invocations), load balancers through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import delete

from cumulo.client import ApiError, Client
from cumulo.services.events import service as events
from tests.services.billing.conftest import Billed
from tests.services.billing.test_billing import charges, span

pytestmark = pytest.mark.xdist_group("billing")
HOUR = 3600


def by_type(client: Client, resource_type: str) -> list[dict]:
    return [e for e in charges(client) if e["resource_type"] == resource_type]


def credits_of(lines: list[dict]) -> float:
    return round(-sum(e["amount"] for e in lines), 6)


def write(billed: Billed, *statements: Any, add: Any = None, event: dict | None = None) -> None:
    """Change rows on the server's loop (its clock: ``updated_at`` is the test clock's time), in one
    transaction, as the owning service does (a statement, or ``fn(session)``); ``event``: an audit
    record in the same transaction."""
    async def go() -> None:
        async with billed.live.platform.db.session() as session:  # type: ignore[union-attr]
            if add is not None:
                session.add(add)
                await session.flush()
            for stmt in statements:
                if callable(stmt):
                    await stmt(session)
                else:
                    await session.execute(stmt)
            if event:
                events.record(session, **event)
            await session.commit()
    billed.live.call(go())


def _database(user_id: str, cpus: float = 1, memory_mb: int = 1024, storage_gb: int = 0) -> Any:
    """A database row; no storage unless asked (its price apart: ``database_storage``)."""
    from cumulo.services.databases.models import ManagedDatabase

    return ManagedDatabase(id=str(uuid.uuid4()), user_id=user_id, name=f"db-{uuid.uuid4().hex[:6]}", engine="postgres",
                           version="16", cpus=cpus, memory_mb=memory_mb, storage_gb=storage_gb, status="creating",
                           desired="running", database_name="app", username="app", secret_name="x",
                           parameters={}, backup_window="03:00-04:00", backup_retention_days=7, disk_backend="plain")


def _delete_database(billed: Billed, db: Any) -> None:
    """As databases.delete does: the row goes, with its ``database.deleted`` event."""
    from cumulo.services.databases.models import ManagedDatabase as M

    write(billed, delete(M).where(M.id == db.id),
          event={"user_id": db.user_id, "action": "database.deleted", "resource_type": "database",
                 "resource_id": db.id, "name": db.name})


def _status(model: Any, rid: str, status: str, **fields: Any) -> Any:
    """A change of a row as its service makes it: through the ORM, which stamps the moment and records
    the change's event (``databases.transitions``) in the same transaction."""
    async def change(session: Any) -> None:
        row = await session.get(model, rid)
        row.status = status
        for name, value in fields.items():
            setattr(row, name, value)
    return change


def test_a_database_is_billed_while_available_by_its_size(billed: Billed) -> None:
    from cumulo.services.databases.models import ManagedDatabase as M

    client, user_id = billed.user("pro")
    billed.to_next_hour()
    db = _database(user_id)  # 1 vCPU, 1 GiB: 0.6 + 0.2 + 0.1 = 0.9 an hour
    write(billed, add=db)
    billed.meter()
    billed.advance(90)  # creating: nothing to pay
    write(billed, _status(M, db.id, "available"))
    billed.meter()
    billed.advance(2 * HOUR)
    write(billed, _status(M, db.id, "stopped"))
    billed.meter()
    billed.advance(HOUR)  # stopped: nothing to pay
    write(billed, _status(M, db.id, "available", cpus=2, memory_mb=2048))  # resized: 0.6 + 0.4 + 0.2 = 1.2
    billed.meter()
    # 2 h at the old size so far (pending, or posted if a day ended meanwhile)
    assert client.billing.balance()["pending"] + credits_of(by_type(client, "database")) == pytest.approx(1.8, abs=1e-6)
    billed.advance(HOUR)
    _delete_database(billed, db)
    billed.advance(5 * HOUR)  # deleted: nothing more
    billed.close_day()
    billed.meter()
    billed.meter()  # a second pass charges nothing twice
    billed.restart()
    client = Client(billed.live.url, api_key=client.api_key)
    billed.meter()
    lines = by_type(client, "database")
    assert credits_of(lines) == pytest.approx(2 * 0.9 + 1.2, abs=1e-6)
    assert {e["resource_id"] for e in lines} == {db.id} and {e["service"] for e in lines} == {"databases"}
    assert len({e["key"] for e in lines}) == len(lines)
    assert client.billing.balance()["pending"] == 0


def test_a_databases_storage_is_billed_while_it_exists_stopped_too(billed: Billed) -> None:
    from cumulo.services.databases.models import ManagedDatabase as M

    client, user_id = billed.user("pro")
    admin = billed.admin()
    admin.billing.edit_price("database_storage.gib_month", 73)  # 0.1 a GiB-hour: 10 GiB, 1 credit an hour
    try:
        billed.to_next_hour()
        db = _database(user_id, storage_gb=10)
        write(billed, add=db)
        billed.meter()
        billed.advance(HOUR)  # creating: its disk exists already
        write(billed, _status(M, db.id, "available"))
        billed.meter()
        billed.advance(2 * HOUR)
        write(billed, _status(M, db.id, "stopped"))
        billed.meter()
        billed.advance(HOUR)  # stopped: the disk is kept, and billed
        billed.meter()
        assert client.billing.balance()["pending"] + credits_of(by_type(client, "database_storage")) \
            + credits_of(by_type(client, "database")) == pytest.approx(4 + 2 * 0.9, abs=1e-3)
        write(billed, _status(M, db.id, "stopped", storage_gb=20))  # grown: 2 credits an hour from now
        billed.meter()
        billed.advance(HOUR)
        _delete_database(billed, db)
        billed.advance(5 * HOUR)  # deleted: nothing more
        billed.close_day()
        billed.meter()
        billed.meter()
        lines = by_type(client, "database_storage")
        assert credits_of(lines) == pytest.approx(4 * 1 + 1 * 2, abs=1e-3)
        assert {e["resource_id"] for e in lines} == {db.id} and {e["service"] for e in lines} == {"databases"}
        assert credits_of(by_type(client, "database")) == pytest.approx(2 * 0.9, abs=1e-6)
        assert client.billing.balance()["pending"] == 0
    finally:
        admin.billing.edit_price("database_storage.gib_month", 0.05)


def test_a_cache_is_billed_while_available_and_ends_at_its_deletion(billed: Billed) -> None:
    from cumulo.services.caches.models import Cache

    client, user_id = billed.user("pro")
    billed.to_next_hour()
    cache = Cache(id=str(uuid.uuid4()), user_id=user_id, name=f"c-{uuid.uuid4().hex[:6]}", version="7", memory_mb=512,
                  cpus=0.5, eviction_policy="noeviction", persistence="none", storage_gb=1, status="creating",
                  username="default", secret_name="x", disk_backend="plain")
    write(billed, add=cache)
    billed.meter()
    billed.advance(30)
    write(billed, _status(Cache, cache.id, "available"))  # 0.3 + 0.5 x 0.2 + 0.5 x 0.1 = 0.45 an hour
    billed.meter()
    billed.advance(HOUR)
    write(billed, _status(Cache, cache.id, "error"))  # the reconciler found it down: not billed meanwhile
    billed.meter()
    billed.advance(HOUR)
    write(billed, _status(Cache, cache.id, "available"))
    billed.meter()
    billed.advance(HOUR)
    # deleted: the meter ends at the deletion event, whatever the time of the next pass
    write(billed, delete(Cache).where(Cache.id == cache.id),
          event={"user_id": user_id, "action": "cache.deleted", "resource_type": "cache", "resource_id": cache.id,
                 "name": cache.name})
    billed.advance(3 * HOUR)
    billed.close_day()
    billed.meter()
    billed.meter()
    lines = by_type(client, "cache")
    assert credits_of(lines) == pytest.approx(2 * 0.45, abs=1e-6)
    assert {e["service"] for e in lines} == {"caches"}


def test_a_load_balancer_is_billed_per_hour_while_it_exists(billed: Billed) -> None:
    client, _user_id = billed.user("pro")
    billed.to_next_hour()
    lb = client.post("/loadbalancers", {"name": f"lb-{uuid.uuid4().hex[:6]}"})
    billed.meter()
    billed.advance(3 * HOUR)
    billed.meter()
    assert client.billing.balance()["pending"] + credits_of(by_type(client, "loadbalancer")) == \
        pytest.approx(0.75, abs=1e-6)
    client.delete(f"/loadbalancers/{lb['id']}")
    billed.advance(2 * HOUR)
    billed.close_day()
    billed.meter()
    billed.meter()
    lines = by_type(client, "loadbalancer")
    assert credits_of(lines) == pytest.approx(3 * 0.25, abs=1e-6)  # 0.25 an hour
    # the plan's limit is the quota: the Free plan allows one load balancer
    free, _ = billed.user("free")
    free.post("/loadbalancers", {"name": f"lb-{uuid.uuid4().hex[:6]}"})
    with pytest.raises(ApiError) as err:
        free.post("/loadbalancers", {"name": f"lb-{uuid.uuid4().hex[:6]}"})
    assert err.value.status == 403 and err.value.code == "QUOTA_EXCEEDED"
    assert {e["resource_id"] for e in lines} == {lb["id"]} and {e["service"] for e in lines} == {"loadbalancers"}
    # one created and deleted between two passes is billed too (from its events): a minute at least
    brief = client.post("/loadbalancers", {"name": f"lb-{uuid.uuid4().hex[:6]}"})
    billed.advance(20)
    client.delete(f"/loadbalancers/{brief['id']}")
    billed.close_day()
    billed.meter()
    assert credits_of([e for e in by_type(client, "loadbalancer") if e["resource_id"] == brief["id"]]) == \
        pytest.approx(0.25 / 60, abs=1e-6)


def _function(billed: Billed, user_id: str, memory_mb: int) -> str:
    from cumulo.services.functions.models import Function, FunctionVersion

    fid = str(uuid.uuid4())
    write(billed, add=Function(id=fid, user_id=user_id, name=f"fn-{uuid.uuid4().hex[:6]}", version=1, status="ACTIVE"))
    write(billed, add=FunctionVersion(function_id=fid, version=1, runtime="python3.12", handler="main.handler",
                                      timeout_seconds=30, memory_mb=memory_mb, max_concurrency=10, env={},
                                      env_secrets={}, code_sha256="0" * 64, code_size=1))
    return fid


def _invoked(billed: Billed, fid: str, user_id: str, count: int, duration_ms: float, *, ran: bool = True) -> None:
    from cumulo.services.functions.models import Invocation

    now = billed.clock.now
    for _ in range(count):
        write(billed, add=Invocation(function_id=fid, user_id=user_id, version=1, status="SUCCEEDED" if ran else "FAILED",
                                     duration_ms=duration_ms if ran else None, started_at=now if ran else None,
                                     ended_at=now, created_at=now))


def test_functions_are_billed_by_invocations_and_gb_seconds(billed: Billed) -> None:
    from cumulo.services.functions.models import Function, FunctionVersion, Invocation

    client, user_id = billed.user("pro")
    admin = billed.admin()
    admin.billing.edit_price("function.million_invocations", 100_000)  # 0.1 an invocation: visible
    admin.billing.edit_price("function.gb_second", 1)
    try:
        billed.to_next_hour()
        fid = _function(billed, user_id, 512)
        billed.meter()
        billed.advance(60)
        _invoked(billed, fid, user_id, 4, 500)  # 4 x 0.5 s x 0.5 GB = 1 GB-s
        _invoked(billed, fid, user_id, 1, 0, ran=False)  # never ran (throttled, no code): not billed
        billed.advance(120)
        billed.meter()
        billed.meter()  # counted once however many passes
        assert client.billing.balance()["pending"] == pytest.approx(4 * 0.1 + 1, abs=1e-6)
        billed.advance(HOUR)
        _invoked(billed, fid, user_id, 2, 2000)  # 2 x 2 s x 0.5 GB = 2 GB-s
        billed.advance(120)
        billed.meter()
        # deleted with its invocations (as functions.delete_function does): what was counted stays
        write(billed, delete(Invocation).where(Invocation.function_id == fid),
              delete(FunctionVersion).where(FunctionVersion.function_id == fid), delete(Function).where(Function.id == fid),
              event={"user_id": user_id, "action": "function.deleted", "resource_type": "function", "resource_id": fid,
                     "name": "fn"})
        billed.close_day()
        billed.meter()
        billed.restart()
        client = Client(billed.live.url, api_key=client.api_key)
        billed.meter()
        lines = by_type(client, "function")
        got = {e["unit"]: (e["quantity"], -e["amount"]) for e in lines}
        assert got == {"invocation": (6, pytest.approx(0.6)), "GB-second": (3, pytest.approx(3))}
        assert len(lines) == 2 and {e["service"] for e in lines} == {"functions"}
        assert client.billing.balance()["pending"] == 0
    finally:
        admin.billing.edit_price("function.million_invocations", 0.2)
        admin.billing.edit_price("function.gb_second", 0.00002)


def test_prices_of_every_metered_kind_are_in_the_table(billed: Billed) -> None:
    prices = {p["key"]: p for p in Client(billed.live.url).billing.prices()}
    for key in ("database.hour", "database.core_hour", "database.gb_ram_hour", "database_storage.gib_month", "cache.hour", "cache.core_hour",
                "cache.gb_ram_hour", "loadbalancer.hour", "function.gb_second", "function.million_invocations",
                "app.hour", "app.core_hour", "app.gb_ram_hour"):
        assert prices[key]["amount"] > 0 and prices[key]["unit"]


def test_usage_adds_up_to_the_ledger_for_every_grouping(billed: Billed) -> None:
    """Every kind charged so far in this module (instances, volumes, databases, caches, load
    balancers, functions...) for one user: each grouping's items add up to the ledger's charges."""
    from cumulo.services.caches.models import Cache

    client, user_id = billed.user("pro")
    billed.to_next_hour()
    lb = client.post("/loadbalancers", {"name": f"lb-{uuid.uuid4().hex[:6]}"})
    rid = str(uuid.uuid4())
    billed.record(user_id, "instance.created", "instance", rid, name="web", cpus=2, memory_mb=2048)
    billed.record(user_id, "instance.launched", "instance", rid, name="web")
    cache = Cache(id=str(uuid.uuid4()), user_id=user_id, name=f"c-{uuid.uuid4().hex[:6]}", version="7", memory_mb=1024,
                  cpus=1, eviction_policy="noeviction", persistence="none", storage_gb=1, status="available",
                  username="default", secret_name="x", disk_backend="plain")
    write(billed, add=cache)
    billed.meter()
    billed.advance(26 * HOUR)  # across a day's end
    billed.record(user_id, "instance.stopped", "instance", rid, name="web")
    client.delete(f"/loadbalancers/{lb['id']}")
    write(billed, delete(Cache).where(Cache.id == cache.id),
          event={"user_id": user_id, "action": "cache.deleted", "resource_type": "cache", "resource_id": cache.id,
                 "name": cache.name})
    billed.close_day()
    billed.meter()
    ledger = credits_of(charges(client))
    assert ledger == pytest.approx(26 * (1.1 + 0.25 + 0.6), abs=1e-5)
    for group_by in ("resource", "service", "day"):
        usage = client.billing.usage(group_by=group_by, **span(billed))
        assert usage["total"] == pytest.approx(ledger, abs=1e-6), group_by
        assert round(sum(i["amount"] for i in usage["items"]), 6) == pytest.approx(ledger, abs=1e-5), group_by
    services = {i["service"] for i in client.billing.usage(group_by="service", **span(billed))["items"]}
    assert services == {"compute", "loadbalancers", "caches"}
    days = client.billing.usage(group_by="day", **span(billed))["items"]
    assert len(days) >= 2 and all(dt.date.fromisoformat(i["day"]) for i in days)


def test_runtime_per_instance_agrees_with_usage(billed: Billed) -> None:
    """What VirtCloud's /vm/stats/runtime needs of billing (``service.resource_runtime``): per
    instance, the hours and cost of the ``group_by=resource`` usage, the open day pending, the rate."""
    from cumulo.services.billing import service

    client, user_id = billed.user("pro")
    billed.to_next_hour()
    rid = str(uuid.uuid4())
    billed.record(user_id, "instance.created", "instance", rid, name="vm1", cpus=2, memory_mb=2048)
    billed.record(user_id, "instance.started", "instance", rid, name="vm1")
    billed.close_day()  # posted: from the start to midnight
    billed.advance(3 * HOUR - 120)  # then 3 h of the open day
    billed.meter()

    async def runtime() -> dict[str, Any]:
        async with billed.live.platform.db.session() as session:  # type: ignore[union-attr]
            start, end = dt.datetime.fromisoformat(span(billed)["start"]), billed.clock.now
            return await service.resource_runtime(session, user_id, "instance", start, end)

    got = billed.run(runtime())[rid]
    items = [i for i in client.billing.usage(group_by="resource", **span(billed))["items"] if i["resource_id"] == rid]
    assert len(items) == 1 and got["cost"] == items[0]["amount"] and got["hours"] == items[0]["quantity"]
    assert got["cost"] == pytest.approx(1.1 * got["hours"], abs=1e-5) and got["hours"] > 0
    assert got["hourly_rate"] == 1.1
    assert got["pending"] == pytest.approx(3.3, abs=1e-5) == client.billing.balance()["pending"]


def _cache(user_id: str, cpus: float = 1, memory_mb: int = 1024) -> Any:
    from cumulo.services.caches.models import Cache

    return Cache(id=str(uuid.uuid4()), user_id=user_id, name=f"c-{uuid.uuid4().hex[:6]}", version="7",
                 memory_mb=memory_mb, cpus=cpus, eviction_policy="noeviction", persistence="aof", storage_gb=1,
                 status="creating", username="default", secret_name="x", disk_backend="plain", address="10.0.0.9")


@pytest.mark.parametrize("kind", ["database", "cache"])
def test_zero_balance_stops_databases_and_caches_after_the_grace_period(billed: Billed, kind: str) -> None:
    """Suspension (credits used up, grace period over) stops the user's available databases and
    caches through their service (``databases.service.stop``, ``caches.service.stop``: never
    deleted), and their meter ends there."""
    from cumulo.services.caches.models import Cache
    from cumulo.services.databases.models import ManagedDatabase

    model, make = (ManagedDatabase, _database) if kind == "database" else (Cache, _cache)
    client, user_id = billed.user("free")
    admin = billed.admin()
    billed.to_next_hour()
    server = make(user_id)  # 1 vCPU, 1 GiB: 0.9 an hour (database), 0.6 (cache)
    write(billed, add=server)
    write(billed, _status(model, server.id, "available"))
    billed.meter()
    admin.billing.grant(user_id, -15, "test: use the month's credits")
    billed.meter()
    assert client.billing.balance()["exhausted"]

    async def status() -> str:
        async with billed.live.platform.db.session() as session:  # type: ignore[union-attr]
            return str((await session.get(model, server.id)).status)  # type: ignore[union-attr]

    assert billed.run(status()) == "available"  # the grace period
    billed.advance(601)
    billed.meter()
    assert billed.run(status()) == "stopped" and client.billing.balance()["suspended"]
    actions = [e["action"] for e in client.get("/events", params={"limit": 100})]
    assert f"{kind}.stopped" in actions
    billed.meter()
    billed.advance(5 * HOUR)  # stopped: no longer charged
    billed.close_day()
    billed.meter()
    hourly = 0.9 if kind == "database" else 0.6
    assert credits_of(by_type(client, kind)) == pytest.approx(hourly * 601 / HOUR, abs=1e-5)


@pytest.mark.parametrize("kind", ["database", "cache"])
def test_a_stop_and_a_start_between_two_passes_are_billed_at_their_moments(billed: Billed, kind: str) -> None:
    """Each change is an event at its moment (not a sample of the row at the next pass): stopped for
    20 minutes between two passes is not billed; started for 10 minutes between two passes is."""
    from cumulo.services.caches.models import Cache
    from cumulo.services.databases.models import ManagedDatabase

    model, make = (ManagedDatabase, _database) if kind == "database" else (Cache, _cache)
    client, user_id = billed.user("pro")
    billed.to_next_hour()
    server = make(user_id)  # 1 vCPU, 1 GiB: 0.9 an hour (database), 0.6 (cache)
    write(billed, add=server)
    billed.advance(30)  # creating: nothing to pay
    write(billed, _status(model, server.id, "available"))
    billed.meter()
    billed.advance(HOUR)
    write(billed, _status(model, server.id, "stopped"))
    billed.advance(20 * 60)
    write(billed, _status(model, server.id, "available"))
    billed.advance(HOUR)
    billed.meter()  # the first pass since: available, as at the last one
    write(billed, _status(model, server.id, "stopped"))
    billed.advance(HOUR)
    billed.meter()
    write(billed, _status(model, server.id, "available"))
    billed.advance(10 * 60)
    write(billed, _status(model, server.id, "error"))  # down again before the next pass
    billed.advance(HOUR)
    billed.meter()  # the first pass since: not available, as at the last one
    billed.close_day()
    billed.meter()
    hourly = 0.9 if kind == "database" else 0.6
    assert credits_of(by_type(client, kind)) == pytest.approx(hourly * (2 + 10 / 60), abs=1e-5)
    assert client.billing.balance()["pending"] == 0
    changes = [e for e in client.get("/events", params={"limit": 100, "resource_id": server.id})
               if e["action"] == f"{kind}.state_changed"]
    assert [e["data"]["status"] for e in reversed(changes)] == ["creating", "available", "stopped", "available",
                                                                "stopped", "available", "error"]
    assert all(e["data"]["usage"]["meter"] == kind and "password" not in str(e["data"]) for e in changes)


def _app(user_id: str, replicas: int = 2, memory_mb: int = 512) -> Any:
    from cumulo.services.apps.models import App

    name = f"app-{uuid.uuid4().hex[:6]}"
    return App(id=str(uuid.uuid4()), user_id=user_id, name=name, hostname=f"{name}.apps.test", status="pending",
               replicas=replicas, memory_mb=memory_mb)


def test_an_app_is_billed_as_its_containers_while_running(billed: Billed) -> None:
    """An app (git-push hosting) runs containers of its own: billed while running as ``replicas``
    containers of 0.5 vCPU and its memory (``app.*`` prices, an instance's), from its change events."""
    from cumulo.services.apps.models import App

    client, user_id = billed.user("pro")
    billed.to_next_hour()
    app = _app(user_id)  # 2 containers of 0.5 vCPU, 512 MB: 2 x 0.5 + 1 vCPU x 0.2 + 1 GB x 0.1 = 1.3 an hour
    write(billed, add=app)
    billed.advance(300)
    write(billed, _status(App, app.id, "building"))  # its first build: nothing runs yet
    billed.advance(300)
    write(billed, _status(App, app.id, "running"))
    billed.meter()
    billed.advance(2 * HOUR)
    write(billed, _status(App, app.id, "running", replicas=1))  # scaled down: 0.5 + 0.1 + 0.05 = 0.65
    billed.advance(HOUR)
    write(billed, _status(App, app.id, "stopped"))
    billed.advance(20 * 60)  # stopped between two passes: not billed
    write(billed, _status(App, app.id, "running"))
    billed.advance(HOUR)
    write(billed, delete(App).where(App.id == app.id),
          event={"user_id": user_id, "action": "app.deleted", "resource_type": "app", "resource_id": app.id,
                 "name": app.name})
    billed.advance(2 * HOUR)  # deleted: nothing more
    billed.close_day()
    billed.meter()
    billed.meter()
    lines = by_type(client, "app")
    assert credits_of(lines) == pytest.approx(2 * 1.3 + 0.65 + 0.65, abs=1e-5)
    assert {e["service"] for e in lines} == {"apps"} and {e["resource_id"] for e in lines} == {app.id}
    assert client.billing.balance()["pending"] == 0

"""A server that dies on its own (a container killed with ``docker kill``: an instance's, a managed
cache's or database's, an app's process) is billed until it really stopped (Docker's ``State.FinishedAt``, put in the server's time),
not until a reconciler noticed; on both databases, with the server's test clock: the clock moves
three hours between the kill and the reconciler's look (which the test holds off meanwhile: the
instance's convergence lock, the server's reconcile lease, the app's deploy lock)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from cumulo.core.clock import iso
from cumulo.testing import eventually
from tests.services.billing.conftest import Billed

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("billing-crash")]
HOUR = 3600


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def _kill(engine: docker.DockerClient, resource_id: str) -> None:
    (container,) = engine.containers.list(all=True, filters={"label": f"cumulo.resource={resource_id}"})
    container.kill()
    assert container.wait(timeout=60)["StatusCode"] == 137  # exited: its FinishedAt is set


def _events(client: Any, resource_id: str, action: str) -> list[dict[str, Any]]:
    return [e for e in client.get("/events", params={"limit": 100})
            if e["action"] == action and e["resource_id"] == resource_id]


def test_a_killed_container_is_billed_until_it_stopped_not_until_it_was_noticed(
        billed: Billed, engine: docker.DockerClient) -> None:
    from cumulo.services.compute import convergence

    platform = billed.live.platform
    client, _ = billed.user("pro")
    billed.to_next_hour()
    inst = client.instances.launch(f"crash-{uuid.uuid4().hex[:6]}", "cumulo/busybox", command=["sleep", "100000"],
                                   cpus=2, memory_mb=2048)
    try:
        assert client.instances.wait(inst["id"], {"RUNNING"}, timeout=120)["status"] == "RUNNING"
        billed.advance(3 * HOUR)
        killed_at = billed.clock.now
        lock = convergence._lock(platform, inst["id"])  # type: ignore[arg-type]
        billed.run(lock.acquire())  # no reconciler pass looks until the clock moved on
        try:
            _kill(engine, inst["id"])
            billed.advance(3 * HOUR)
        finally:
            async def release() -> None:
                lock.release()
            billed.run(release())
        billed.run(convergence.converge(platform, inst["id"]))  # type: ignore[arg-type]
        failed = client.instances.get(inst["id"])
        assert failed["status"] == "ERROR" and "exit code 137" in failed["status_reason"], failed
        (event,) = _events(client, inst["id"], "instance.failed")
        assert event["data"]["stopped_at"] == iso(killed_at)
        assert dt.datetime.fromisoformat(event["created_at"]) == killed_at + dt.timedelta(hours=3)  # noticed then

        billed.close_day()
        billed.meter()
        billed.meter()  # a rerun charges nothing twice
        lines = [e for e in client.billing.transactions(kind="charge") if e["resource_id"] == inst["id"]]
        assert round(sum(e["quantity"] for e in lines), 6) == 3.0  # not 6 h
        assert round(-sum(e["amount"] for e in lines), 6) == 3.3  # 3 x (0.5 + 2 x 0.2 + 2 x 0.1)
    finally:
        client.instances.terminate(inst["id"])


# kind -> (make one, its reconcile kind, its hourly rate: <kind>.hour + 0.5 vCPU x 0.2 + memory x 0.1)
SERVERS: dict[str, tuple[Any, str, float]] = {
    "cache": (lambda c, name: c.caches.create(name, memory_mb=64, cpus=0.5), "caches", 0.3 + 0.1 + 64 / 1024 * 0.1),
    "database": (lambda c, name: c.databases.create(name, "postgres", memory_mb=256, cpus=0.5), "databases",
                 0.6 + 0.1 + 256 / 1024 * 0.1),
}


@pytest.mark.parametrize("kind", list(SERVERS))
def test_a_killed_managed_server_is_billed_until_it_stopped_and_again_once_it_was_started(
        billed: Billed, engine: docker.DockerClient, kind: str) -> None:
    from cumulo.db import locks
    from cumulo.runtime import reconcile

    make, reconciled, hourly = SERVERS[kind]
    platform = billed.live.platform
    client, _ = billed.user("pro")
    api = client.caches if kind == "cache" else client.databases
    billed.to_next_hour()
    server = make(client, f"crash-{uuid.uuid4().hex[:6]}")
    try:
        assert server["status"] == "available"
        billed.advance(2 * HOUR)
        killed_at = billed.clock.now
        lease, holder = f"reconcile:{reconciled}:{server['id']}", f"test:{uuid.uuid4().hex}"
        assert billed.run(locks.take_lease(platform.db, lease, holder, 600))  # type: ignore[union-attr]
        try:
            _kill(engine, server["id"])
            billed.advance(3 * HOUR)
        finally:
            billed.run(locks.drop_lease(platform.db, lease, holder))  # type: ignore[union-attr]

        async def wake() -> None:
            reconcile.wake(platform, reconciled, server["id"])  # type: ignore[arg-type]
        billed.run(wake())

        def changes() -> list[tuple[str, str]]:
            return [(e["data"]["status"], e["data"]["usage"]["at"])
                    for e in _events(client, server["id"], f"{kind}.state_changed")]

        restarted = ("available", iso(killed_at + dt.timedelta(hours=3)))  # billed again from then
        eventually(lambda: restarted in changes(), timeout=240, what=f"the reconciler to start the {kind} again")
        assert ("error", iso(killed_at)) in changes(), changes()  # failed at the kill, not when noticed
        assert api.get(server["id"])["status"] == "available"
        billed.advance(HOUR)
        api.stop(server["id"])

        billed.close_day()
        billed.meter()
        lines = [e for e in client.billing.transactions(kind="charge")
                 if e["resource_id"] == server["id"] and e["resource_type"] == kind]  # a database's disk apart
        assert round(sum(e["quantity"] for e in lines), 6) == 3.0, lines  # 2 h, then 1 h; not the 3 h down
        assert round(-sum(e["amount"] for e in lines), 6) == round(3 * hourly, 6)
    finally:
        if kind == "cache":
            client.caches.delete(server["id"])
        else:
            client.databases.delete(server["id"], skip_final_backup=True)


def _hold_heal(billed: Billed, app_id: str, held: bool) -> None:
    """Hold off the apps reconciler (it skips an app whose deploy lock is taken) or let it look again."""
    from sqlalchemy import update

    from cumulo.services.apps.models import App

    async def go() -> None:
        async with billed.live.platform.db.session() as session:  # type: ignore[union-attr]
            await session.execute(update(App).where(App.id == app_id).values(
                deploy_token=str(uuid.uuid4()) if held else None,
                deploy_started_at=billed.clock.now if held else None))
            await session.commit()
    billed.run(go())


def test_a_crashed_app_process_is_billed_until_it_stopped_and_again_once_healed(
        billed: Billed, engine: docker.DockerClient) -> None:
    """An app is billed as its running containers: a killed one is counted out from Docker's stop time
    (not from when the reconciler noticed) and in again once the reconciler started the release again."""
    from cumulo.services.apps import pipeline, reconciler, runtime
    from cumulo.services.apps.models import App, Release

    platform = billed.live.platform
    client, user_id = billed.user("pro")
    name = f"crash-{uuid.uuid4().hex[:6]}"

    async def make() -> str:
        async with platform.db.session() as session:  # type: ignore[union-attr]
            app = App(user_id=user_id, name=name, hostname=f"{name}.apps.test", status="pending", replicas=2,
                      memory_mb=512)  # 2 x (0.5 + 0.5 vCPU x 0.2 + 0.5 GB x 0.1) = 1.3 an hour
            session.add(app)
            await session.flush()
            release = Release(app_id=app.id, user_id=user_id, version=1, image="cumulo/nginx", process="worker",
                              description="crash test")
            session.add(release)
            await session.commit()
            await session.refresh(app)
            await session.refresh(release)
        await pipeline.switch(platform, app, release, lambda line: None)  # type: ignore[arg-type]
        return app.id

    async def redeploy() -> None:  # what a deploy's switch does once its build is done: the release again
        async with platform.db.session() as session:  # type: ignore[union-attr]
            app = await session.get(App, app_id)
            assert app is not None
            release = await session.get(Release, app.current_release_id)
        await pipeline.switch(platform, app, release, lambda line: None)  # type: ignore[arg-type]

    def kill(count: int) -> dt.datetime:
        def serving() -> list[Any] | None:  # the two of the release (the replaced ones drain for a few seconds)
            found = engine.containers.list(filters={"label": f"cumulo.resource={app_id}", "status": "running"})
            found = [c for c in found if "cumulo.app-standby" not in c.labels]  # the waiting one is not billed
            return found if len(found) == 2 else None
        running = eventually(serving, timeout=60, what="the app's two processes, and only them")
        for container in running[:count]:
            container.kill()
            assert container.wait(timeout=60)["StatusCode"] == 137
        return billed.clock.now

    def heal() -> None:
        healed = len(_events(client, app_id, "app.healed"))
        _hold_heal(billed, app_id, False)
        billed.run(reconciler.heal(platform))  # type: ignore[arg-type]
        eventually(lambda: len(_events(client, app_id, "app.healed")) > healed, timeout=120,
                   what="the apps reconciler to start the app again")

    billed.to_next_hour()
    app_id = billed.run(make())
    try:
        billed.advance(2 * HOUR)
        _hold_heal(billed, app_id, True)
        first = kill(1)
        billed.advance(3 * HOUR)
        heal()
        (crashed,) = _events(client, app_id, "app.process_crashed")
        assert crashed["data"]["stopped_at"] == iso(first) and crashed["data"]["running"] == 1
        assert dt.datetime.fromisoformat(crashed["created_at"]) == first + dt.timedelta(hours=3)  # noticed then
        billed.advance(HOUR)
        _hold_heal(billed, app_id, True)
        both = kill(2)
        billed.advance(2 * HOUR)
        heal()
        assert [(e["data"]["running"], e["data"]["usage"]["active"]) for e in
                _events(client, app_id, "app.process_crashed")] == [(0, False), (1, True)]  # both out at once
        billed.advance(HOUR)
        # a process that ends while a deploy holds the app's lock (the reconciler skips the app) is
        # counted out from its stop by the deploy's switch, and in again once the new processes run
        _hold_heal(billed, app_id, True)
        during = kill(1)
        billed.advance(2 * HOUR)
        billed.run(redeploy())
        _hold_heal(billed, app_id, False)
        last = _events(client, app_id, "app.process_crashed")[0]  # newest first
        assert (last["data"]["stopped_at"], last["data"]["running"]) == (iso(during), 1)
        billed.advance(HOUR)
        client.apps.stop(name)

        billed.close_day()
        billed.meter()
        billed.meter()  # a rerun charges nothing twice
        lines = [e for e in client.billing.transactions(kind="charge") if e["resource_id"] == app_id]
        assert round(sum(e["quantity"] for e in lines), 6) == 10.0, lines  # not every hour the app showed as 'running'
        # 2 h of two containers, 3 h of one, 1 h of two, none for 2 h, 1 h of two, 2 h of one, 1 h of two
        assert round(-sum(e["amount"] for e in lines), 6) == round(2 * 1.3 + 3 * 0.65 + 1.3 + 1.3 + 2 * 0.65 + 1.3, 6)
        assert both == first + dt.timedelta(hours=4)
    finally:
        billed.run(runtime.retire(platform, app_id, None))  # type: ignore[arg-type]

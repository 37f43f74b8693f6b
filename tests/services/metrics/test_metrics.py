"""The sampler records CPU and memory of running instances; the series is the owner's only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from cumulo.testing import eventually
from tests.conftest import register_and_login
from tests.services.network.dockerkit import IMAGE, status_of

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it

BUSY = ["sh", "-c", "while :; do :; done"]


def _wait_for_points(c: Any, instance_id: str, count: int) -> list[dict[str, Any]]:
    def points() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = c.get(f"/instances/{instance_id}/metrics")["points"]
        return found if len(found) >= count else None

    return eventually(points, 90, 0.3, what=f"{count} samples")


def test_sampler_records_cpu_and_memory(make_server, busybox) -> None:  # type: ignore[no-untyped-def]
    live = make_server(metrics_interval_seconds=1.0)
    with register_and_login(live) as c, register_and_login(live) as other:
        inst = c.post("/instances", {"name": "busy", "image": IMAGE, "command": BUSY, "memory_mb": 128})
        assert inst["status"] == "RUNNING"
        points = _wait_for_points(c, inst["id"], 3)
        assert max(p["cpu_percent"] for p in points) > 10.0
        assert all(p["memory_bytes"] > 0 for p in points)
        assert points[-1]["memory_limit_bytes"] == 128 * 1024 * 1024
        times = [dt.datetime.fromisoformat(p["time"]) for p in points]
        assert times == sorted(times)
        later = c.get(f"/instances/{inst['id']}/metrics", params={"since": times[-1].isoformat()})["points"]
        assert all(dt.datetime.fromisoformat(p["time"]) > times[-1] for p in later)
        assert c.get("/instances/busy/metrics")["instance_id"] == inst["id"]
        assert status_of(lambda: other.get(f"/instances/{inst['id']}/metrics")) == 404
        assert status_of(lambda: c.get("/instances/nope/metrics")) == 404
        assert status_of(lambda: c.get(f"/instances/{inst['id']}/metrics", params={"since": "yesterday"})) == 400
        assert status_of(lambda: c.get(f"/instances/{inst['id']}/metrics", params={"limit": 0})) == 400
        c.delete(f"/instances/{inst['id']}")


def test_retention_drops_old_samples(make_server) -> None:  # type: ignore[no-untyped-def]
    from cumulo.services.metrics import service
    from cumulo.services.metrics.sampler import Sample

    live = make_server(metrics_interval_seconds=3600.0)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    fresh = dt.datetime.now(dt.UTC)

    async def scenario() -> tuple[int, int]:
        async with live.platform.db.session() as session:
            await service.store(session, [Sample("i-1", "u-1", old, 1.0, 1, 2, 1),
                                          Sample("i-1", "u-1", fresh, 2.0, 1, 2, 1)])
            dropped = await service.drop_older_than(session, 3600)
            from sqlalchemy import func, select

            from cumulo.services.metrics.models import InstanceMetric
            left = await session.scalar(select(func.count()).select_from(InstanceMetric))
            return dropped, int(left or 0)

    assert live.call(scenario()) == (1, 1)


def _series(c: Any, path: str, ready: Any) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        points: list[dict[str, Any]] = c.get(path)["points"]
        return points if points and ready(points) else None

    return eventually(found, 180, 0.5, what=f"samples at {path}")


def test_a_deployments_series_sums_its_replicas_of_each_pass(make_server, busybox) -> None:  # type: ignore[no-untyped-def]
    live = make_server(metrics_interval_seconds=1.0)
    with register_and_login(live) as c, register_and_login(live) as other:
        dep = c.post("/deployments", {"name": "busy", "image": IMAGE, "command": BUSY, "replicas": 2, "memory_mb": 64,
                                      "cpus": 0.5})
        try:
            path = f"/deployments/{dep['id']}/metrics"
            points = _series(c, path, lambda ps: sum(p["members"] == 2 for p in ps) >= 3)
            both = [p for p in points if p["members"] == 2]
            assert all(p["memory_limit_bytes"] == 2 * 64 * 1024 * 1024 for p in both)  # two replicas' limits
            assert all(p["memory_bytes"] > 0 and p["pids"] >= 2 and p["cpu_percent"] > 0 for p in both)
            replicas = [c.get(f"/instances/{i['id']}/metrics")["points"] for i in c.get("/instances")]
            assert len(replicas) == 2
            for p in both:  # each point is its pass's two replica samples (the same moment) added up
                parts = [next(q for q in series if q["time"] == p["time"]) for series in replicas]
                assert p["memory_bytes"] == sum(q["memory_bytes"] for q in parts)
                assert p["pids"] == sum(q["pids"] for q in parts)
                assert abs(p["cpu_percent"] - sum(q["cpu_percent"] for q in parts)) < 0.01
            body = c.get("/deployments/busy/metrics")
            assert (body["resource_type"], body["resource_id"], body["instance_id"]) == ("deployment", dep["id"], None)
            one = c.get(f"/instances/{c.get('/instances')[0]['id']}/metrics")["points"]
            assert one and all(p["members"] == 1 and p["memory_limit_bytes"] == 64 * 1024 * 1024 for p in one)
            assert status_of(lambda: other.get(path)) == 404
            assert status_of(lambda: c.get("/deployments/nope/metrics")) == 404
            assert status_of(lambda: c.get(path, params={"limit": 0})) == 400
        finally:
            c.delete(f"/deployments/{dep['id']}")
            # the reconciler drains and removes the busy replicas: gone before the server stops
            eventually(lambda: all(d["id"] != dep["id"] for d in c.get("/deployments")), timeout=60)


def test_a_databases_series_is_its_servers_container(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(metrics_interval_seconds=1.0)
    with register_and_login(live) as c, register_and_login(live) as other:
        db = c.post("/databases", {"name": "orders", "engine": "postgres", "memory_mb": 256, "storage_gb": 1})
        try:
            path = f"/databases/{db['id']}/metrics/series"
            points = _series(c, path, lambda ps: len(ps) >= 2)
            assert all(p["memory_limit_bytes"] == 256 * 1024 * 1024 and p["memory_bytes"] > 0 for p in points)
            body = c.get("/databases/orders/metrics/series")
            assert (body["resource_type"], body["resource_id"]) == ("database", db["id"])
            assert status_of(lambda: other.get(path)) == 404
            assert status_of(lambda: c.get("/databases/nope/metrics/series")) == 404
        finally:
            c.delete(f"/databases/{db['id']}")

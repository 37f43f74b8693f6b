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

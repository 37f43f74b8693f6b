"""Deployment tests: one SQLite server per module (its own Caddy for the load balancer tests),
replicas of the ``cumulo/python`` image serving the load balancer tests' tiny HTTP app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.client import Client
from cumulo.testing import eventually
from cumulo.testing.engine import containers as find_containers
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.lb.conftest import APP, IMAGE

# short, but tolerant of a loaded machine (a slow answer is not a failed rollout)
FAST_CHECK = {"http_path": "/health", "port": 8000, "interval_seconds": 1, "timeout_seconds": 1, "retries": 3}
LB_CHECK = {"path": "/health", "interval_seconds": 1, "timeout_seconds": 0.9, "healthy_threshold": 2,
            "unhealthy_threshold": 3}


def spec(name: str = "v1", *, sick: bool = False, **extra: Any) -> dict[str, Any]:
    """A replica answering ``name`` on port 8000 (GET /health: 500 while /tmp/sick exists; ``sick``:
    from the start), which logs ``started <name>``."""
    start = ("touch /tmp/sick; " if sick else "") + 'echo "started $NAME"; exec python3 -c "$APP"'
    return {"image": IMAGE, "command": ["sh", "-c", start], "env": {"NAME": name, "APP": APP}, "ports": [8000],
            "memory_mb": 96, "cpus": 0.25, "health_check": FAST_CHECK, **extra}


@pytest.fixture(scope="module")
def dep_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from cumulo.testing.server import test_settings

    live = LiveServer(test_settings(str(tmp_path_factory.mktemp("cumulo-dep")), lb_port_range="1024-65535",
                                    deployments_tick_seconds=0.5)).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def owner(dep_server: LiveServer) -> Iterator[Client]:
    with register_and_login(dep_server) as client:
        yield client


@pytest.fixture(scope="module")
def stranger(dep_server: LiveServer) -> Iterator[Client]:
    with register_and_login(dep_server) as client:
        yield client


def containers(dep_id: str) -> list[Any]:
    """The replicas as Docker sees them (running ones)."""
    return find_containers(label=f"cumulo.deployment={dep_id}")


def settled(client: Client, dep_id: str, revision: int | None = None, ready: int | None = None,
            timeout: float = 90) -> dict[str, Any]:
    """Wait until the deployment is RUNNING (at ``revision``, with ``ready`` ready replicas)."""
    last: list[dict[str, Any]] = []

    def check() -> dict[str, Any] | None:
        d = client.deployments.get(dep_id)
        last[:] = [d]
        want = d["replicas"] if ready is None else ready
        ok = d["status"] == "RUNNING" and d["ready_replicas"] == want and len(d["members"]) == want
        return d if ok and (revision is None or d["revision"] == revision) else None

    try:
        return eventually(check, timeout, interval=0.2, what=f"deployment {dep_id} running")
    except AssertionError as exc:
        d = last[0] if last else {}
        state = {k: d.get(k) for k in ("status", "status_reason", "revision", "ready_replicas")}
        members = [(m["name"], m["state"], m["in_load_balancer"], m["last_error"]) for m in d.get("members", [])]
        raise AssertionError(f"{exc}: {state} {members}") from None


def remove(client: Client, dep_id: str) -> None:
    client.deployments.delete(dep_id)
    eventually(lambda: dep_id not in {d["id"] for d in client.deployments.list()} and not containers(dep_id),
               90, interval=0.3, what="deployment removed")

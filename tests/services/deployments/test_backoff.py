"""The crash-loop backoff is kept in the database: a Cumulo restart (SQLite) or another worker taking
over (PostgreSQL: a second server joins, the first stops) carries on with it instead of starting
from nothing; a new revision resets it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from cumulo.client import Client
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer
from tests.conftest import _create_pg_database, register_and_login
from tests.services.deployments.conftest import remove, settled

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments-backoff")]

CRASH = {"image": "cumulo/busybox", "command": ["sh", "-c", "exit 3"], "memory_mb": 32}


def _failures(d: dict[str, Any]) -> int:
    return int(d["crash_loop"]["failures"]) if d["crash_loop"] else 0


def _point_at(client: Client, live: LiveServer) -> None:
    client.base_url = live.url
    client._http.base_url = live.url


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_crash_loop_backoff_survives_a_restart(make_server: Callable[..., LiveServer], tmp_path: Any,
                                                   database: str) -> None:
    url, drop = _create_pg_database() if database == "postgresql" else (None, lambda: None)
    settings = {"data_dir": str(tmp_path / "data"), "database_url": url,
                "installation_id": f"t{uuid.uuid4().hex[:10]}", "deployments_tick_seconds": 0.5}
    first = make_server(**settings)
    servers, client = [first], register_and_login(first)
    dep = client.deployments.create("crash", replicas=1, **CRASH)
    try:
        d = eventually(lambda: _failures(now := client.deployments.get(dep["id"])) >= 3 and now, 90, interval=0.2,
                       what="a crash loop of 3 failures")
        before = _failures(d)
        assert d["crash_loop"]["next_start_at"] and "failing repeatedly: next start in" in d["status_reason"]
        if database == "postgresql":  # another process on the database takes over, the first goes
            servers.append(second := make_server(**settings))
            first.stop()
        else:  # the same installation started again on its data folder
            first.stop()
            servers.append(second := make_server(**settings))
        _point_at(client, second)
        seen: list[int] = []

        def grown() -> dict[str, Any] | None:
            now = client.deployments.get(dep["id"])
            seen.append(_failures(now))
            return now if seen[-1] > before else None

        d = eventually(grown, 120, interval=0.2, what="the crash loop carried on after the restart")
        assert min(seen) >= before, seen  # never back to the start
        assert "failing repeatedly: next start in" in d["status_reason"]
        # a fixed revision starts without the old one's backoff, and ends the crash loop
        client.deployments.update(dep["id"], command=["sleep", "3600"])
        fixed = settled(client, dep["id"], revision=2, timeout=120)
        assert fixed["crash_loop"] is None
    finally:
        if len(servers) == 2 or client.base_url == first.url and first._thread.is_alive():
            remove(client, dep["id"])
        client.close()
        for live in servers:
            live.stop()
        drop()

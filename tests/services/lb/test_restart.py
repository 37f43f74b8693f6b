"""Cumulo restarted under load: the load balancer never stops serving (Caddy keeps running and
is adopted), and the next Cumulo keeps the targets' health and converges the same pool."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer, free_port
from tests.conftest import register_and_login
from tests.services.lb.conftest import APP, FAST, IMAGE, Front, eventually, target_health

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def test_traffic_never_stops_while_cumulo_restarts(tmp_path: Path, make_server: Callable[..., LiveServer]) -> None:
    ports = {"proxy_http_port": free_port(), "proxy_https_port": free_port()}
    first = make_server(data_dir=str(tmp_path / "data"), proxy_stop_on_exit=False, **ports)
    client = register_and_login(first)
    key = client.api_key
    insts = [client.instances.launch(n, IMAGE, command=["python3", "-c", APP], env={"NAME": n}, memory_mb=128,
                                     cpus=0.25) for n in ("rs-a", "rs-b")]
    lb = client.lb.create("rs", targets=[{"instance_id": i["id"], "port": 8000} for i in insts], health_check=FAST)
    eventually(lambda: set(target_health(client, lb["id"]).values()) == {"healthy"})
    front = Front(lb)
    eventually(lambda: set(front.names(6)) == {"rs-a", "rs-b"})
    results: list[int] = []
    stop = threading.Event()

    def load() -> None:
        f = Front(lb)
        while not stop.is_set():
            try:
                results.append(f.get("/").status_code)
            except Exception:  # noqa: BLE001 - a transport failure is a failed request too
                results.append(0)
        f.close()

    worker = threading.Thread(target=load)
    worker.start()
    second: LiveServer | None = None
    try:
        client.close()
        first.stop()  # Caddy keeps serving
        during = len(results)
        eventually(lambda: len(results) > during + 50)
        second = make_server(data_dir=str(tmp_path / "data"), proxy_stop_on_exit=True, **ports)
        client = Client(second.url, api_key=key)
        state = client.lb.get(lb["id"])
        assert {t["health"] for t in state["targets"]} == {"healthy"} and state["in_service"] == 2
        after = len(results)
        eventually(lambda: len(results) > after + 200)  # the adopted Caddy, reconciled by the new Cumulo
    finally:
        stop.set()
        worker.join(30)
        front.close()
    assert results and all(code == 200 for code in results), [c for c in results if c != 200][:5]
    again = Front(lb)
    assert set(again.names(6)) == {"rs-a", "rs-b"}
    again.close()
    client.lb.delete(lb["id"])
    for i in insts:
        client.instances.terminate(i["id"])
    client.close()

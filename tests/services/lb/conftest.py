"""Load balancer tests run a real Caddy (one per test server) in front of real instances: the
``cumulo/python`` image serving a tiny HTTP app that answers its own name."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import docker
import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.polling import eventually_served
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login

IMAGE = "cumulo/python"
# GET /health answers 200 (500 while /tmp/sick exists), /slow?s=N sleeps N seconds, anything else the name.
APP = r"""
import os, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
NAME = os.environ["NAME"]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        code = 200
        if url.path == "/health" and os.path.exists("/tmp/sick"):
            code = 500
        if url.path == "/slow":
            time.sleep(float(urllib.parse.parse_qs(url.query).get("s", ["1"])[0]))
        body = NAME.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("", 8000), H).serve_forever()
"""
FAST = {"path": "/health", "interval_seconds": 1, "timeout_seconds": 0.5, "healthy_threshold": 2,
        "unhealthy_threshold": 2}


@pytest.fixture(scope="session")
def lb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A SQLite server with its own Caddy on free ports (Docker-heavy tests: one backend is enough)."""
    from cumulo.testing.server import test_settings

    live = LiveServer(test_settings(str(tmp_path_factory.mktemp("cumulo-lb")), lb_port_range="1024-65535")).start()
    yield live
    live.stop()


@pytest.fixture
def lb_user(lb_server: LiveServer) -> Iterator[Client]:
    with register_and_login(lb_server) as client:
        yield client


@pytest.fixture
def lb_other(lb_server: LiveServer) -> Iterator[Client]:
    with register_and_login(lb_server) as client:
        yield client


@pytest.fixture
def web(lb_user: Client) -> Iterator[Callable[[str], dict[str, Any]]]:
    """``web(name)``: a running instance of the caller serving ``name`` on port 8000."""
    launched: list[str] = []

    def launch(name: str) -> dict[str, Any]:
        inst = lb_user.instances.launch(name, IMAGE, command=["python3", "-c", APP], env={"NAME": name},
                                        memory_mb=128, cpus=0.25)
        assert inst["status"] == "RUNNING", inst
        launched.append(inst["id"])
        return inst

    yield launch
    for inst_id in launched:
        with contextlib.suppress(Exception):  # already gone
            lb_user.instances.terminate(inst_id)


def container_of(inst: dict[str, Any]) -> Any:
    engine = docker.from_env()
    found = engine.containers.list(all=True, filters={"label": f"cumulo.resource={inst['id']}"})
    assert found, f"no container for {inst['name']}"
    return found[0]


class Front:
    """Requests to a load balancer's ``url`` (its hostname is sent as Host to the loopback proxy)."""

    def __init__(self, lb: dict[str, Any]):
        parts = urlsplit(lb["url"])
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers={"Host": self.host},
                                 timeout=30, trust_env=False)

    def get(self, path: str = "/") -> httpx.Response:
        """A GET as browsers and HTTP libraries with retries send it: an idle keep-alive connection the
        proxy closed (Caddy closes idle connections of its old server at a config push) before any byte
        of a response came back is retried once on a new connection (RFC 9112 9.3.1: idempotent
        requests may be retried automatically). A request that got an answer is never retried."""
        try:
            return self.http.get(path)
        except httpx.RemoteProtocolError as exc:
            if "without sending a response" not in str(exc):
                raise
            return self.http.get(path)

    def names(self, n: int) -> list[str]:
        out = []
        for _ in range(n):
            r = self.get("/")
            out.append(r.text if r.status_code == 200 else f"<{r.status_code}>")
        return out

    def close(self) -> None:
        self.http.close()


eventually = eventually_served  # a server that does not answer yet counts as "not yet"


def wait_for(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 60.0) -> Any:
    """Fetch until ``ok(value)``; the value."""
    box: list[Any] = []

    def check() -> bool:
        box[:] = [fetch()]
        return ok(box[0])

    eventually(check, timeout)
    return box[0]


def target_health(client: Client, lb_id: str) -> dict[str, str]:
    """instance_id -> health."""
    return {t["instance_id"]: t["health"] for t in client.lb.get(lb_id)["targets"]}

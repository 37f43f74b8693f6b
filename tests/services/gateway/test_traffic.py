"""Routes through the real data plane (Caddy) to real instances."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.services.gateway.conftest import Front, eventually, served

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def _slug(client: Client) -> str:
    return client.identity.me()["id"].replace("-", "")[:8]


def test_longest_prefix_and_strip_prefix_in_both_orders(gw_user: Client, web: Callable[[str], dict[str, Any]],
                                                        front: Callable[[str], Front]) -> None:
    a, b = web("gw-a"), web("gw-b")
    host = f"shop-{_slug(gw_user)}.localhost"
    specs = [{"name": "api", "prefix": "/api", "target": f"instance:{a['id']}:8000", "strip_prefix": True},
             {"name": "apiv1", "prefix": "/api/v1", "target": f"instance:{b['id']}:8000"}]
    for ordering in (specs, specs[::-1]):
        made = [gw_user.routes.create(hostname=host, **spec) for spec in ordering]
        f = front(made[0]["url"])
        assert made[0]["hostname"] == host and made[0]["url"].startswith(f"http://{host}:")
        assert served(f, "/api/v1/items?q=1", "gw-b")["path"] == "/api/v1/items?q=1"
        assert served(f, "/api/other", "gw-a")["path"] == "/other"
        assert served(f, "/api", "gw-a")["path"] == "/"
        assert served(f, "/api/v10", "gw-a")["path"] == "/v10"  # segment boundary: /api/v10 is not /api/v1
        r = f.get("/apiary")  # not under /api: no route
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
        for route in made:
            gw_user.routes.delete(route["id"])
        eventually(lambda f=f: f.get("/api/v1").status_code == 404)


def test_generated_hostname_url_reaches_instance(gw_user: Client, web: Callable[[str], dict[str, Any]],
                                                 front: Callable[[str], Front]) -> None:
    inst = web("gw-gen")
    route = gw_user.routes.create("site", f"instance:{inst['id']}:8000")
    assert route["hostname"] == f"site-{_slug(gw_user)}.localhost"
    got = served(front(route["url"]), "/hello", "gw-gen")
    assert got["path"] == "/hello" and got["host"].endswith(":8000")  # Host rewritten to the upstream by default
    gw_user.routes.delete(route["id"])


def test_require_api_key(gw_user: Client, gw_other: Client, web: Callable[[str], dict[str, Any]],
                         front: Callable[[str], Front]) -> None:
    inst = web("gw-key")
    route = gw_user.routes.create("secure", f"instance:{inst['id']}:8000", require_api_key=True)
    f = front(route["url"])
    got = served(f, "/x", "gw-key", headers={"X-API-Key": gw_user.api_key})
    assert got["key"] is None  # the caller's key is not passed upstream
    r = f.get("/x")
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    assert f.get("/x", headers={"X-API-Key": gw_other.api_key}).status_code == 401
    assert f.get("/x", headers={"X-API-Key": "cml_not-a-key"}).status_code == 401
    issued = gw_user.routes.create_key(route["id"], "partner")
    assert f.get("/x", headers={"Authorization": f"Bearer {issued['key']}"}).status_code == 200
    assert [k["id"] for k in gw_user.routes.keys(route["id"])] == [issued["id"]]
    gw_user.routes.delete_key(route["id"], issued["id"])
    assert f.get("/x", headers={"X-API-Key": issued["key"]}).status_code == 401
    other = gw_user.routes.create("secure2", f"instance:{inst['id']}:8000", require_api_key=True)
    other_key = gw_user.routes.create_key(other["id"])["key"]
    assert f.get("/x", headers={"X-API-Key": other_key}).status_code == 401  # a key of another route
    gw_user.routes.delete(route["id"])
    gw_user.routes.delete(other["id"])


def test_rate_limit_per_client(gw_user: Client, web: Callable[[str], dict[str, Any]],
                               front: Callable[[str], Front]) -> None:
    inst = web("gw-rate")
    route = gw_user.routes.create("limited", f"instance:{inst['id']}:8000", rate_limit=1)
    f = front(route["url"])
    served(f, "/", "gw-rate")
    statuses = [f.get("/").status_code for _ in range(10)]
    assert 429 in statuses
    limited = next(r for r in (f.get("/") for _ in range(5)) if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    gw_user.routes.delete(route["id"])


def test_caddy_killed_is_restarted_with_its_config(gw_server: LiveServer, gw_user: Client,
                                                   web: Callable[[str], dict[str, Any]],
                                                   front: Callable[[str], Front]) -> None:
    from cumulo.services.gateway.dataplane import dataplane

    inst = web("gw-kill")
    route = gw_user.routes.create("survivor", f"instance:{inst['id']}:8000")
    f = front(route["url"])
    served(f, "/", "gw-kill")
    assert gw_server.platform is not None
    process = dataplane(gw_server.platform).process
    assert process is not None
    pid = process.pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    served(f, "/after", "gw-kill")
    assert eventually(lambda: process.pid not in (None, pid))
    gw_user.routes.delete(route["id"])


def test_https_with_the_downloadable_internal_ca(gw_user: Client, web: Callable[[str], dict[str, Any]],
                                                 front: Callable[[str], Front], tmp_path: Any) -> None:
    import ssl

    import httpx

    inst = web("gw-tls")
    route = gw_user.routes.create("tls", f"instance:{inst['id']}:8000")
    served(front(route["url"]), "/", "gw-tls")
    pem = eventually(lambda: gw_user.routes.ca_certificate())
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    ca = tmp_path / "ca.pem"
    ca.write_text(pem)
    url = httpx.URL(route["https_url"])
    ctx = ssl.create_default_context(cafile=str(ca))

    def over_tls() -> dict[str, Any] | None:
        with httpx.Client(verify=ctx, trust_env=False) as http:
            r = http.get(f"https://127.0.0.1:{url.port}/secure", headers={"Host": url.host},
                         extensions={"sni_hostname": url.host})
        return r.json() if r.status_code == 200 else None

    got = eventually(over_tls)
    assert got["name"] == "gw-tls" and got["path"] == "/secure"
    gw_user.routes.delete(route["id"])

"""The seed projects' own paths (Cloud OS, VirtCloud, CloudNest), sent as their clients send them."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email, register_and_login


def _signup(live: LiveServer, path: str, **extra: str) -> tuple[str, httpx.Response]:
    email = new_email()
    body = {"email": email, "username": "Ada Lovelace", "password": PASSWORD, **extra}
    return email, httpx.post(live.url + path, json=body)


def test_cloud_os_register_token_and_user(server: LiveServer) -> None:
    email, r = _signup(server, "/register")
    assert r.status_code == 201 and "user created" in r.json()["message"]
    r = httpx.post(server.url + "/token", data={"username": email, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = httpx.get(server.url + "/user", headers=bearer).json()
    assert me["username"] == "Ada Lovelace" and me["email"] == email and me["active_containers"] == 0
    assert me["disabled"] is False and me["max_containers"] >= 1
    wrong = httpx.post(server.url + "/token", data={"username": email, "password": "Wrong-pass1"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "UNAUTHORIZED"
    assert httpx.get(server.url + "/user").status_code == 401


def test_virtcloud_signup_then_me(server: LiveServer) -> None:
    email, r = _signup(server, "/auth/signup", plan="free")
    assert r.status_code == 201 and r.json()["message"]
    key = httpx.post(server.url + "/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
    me = httpx.get(server.url + "/auth/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert me["email"] == email and me["name"] == me["username"] == "Ada Lovelace"
    weak = httpx.post(server.url + "/auth/signup", json={"email": new_email(), "username": "x", "password": "short"})
    assert weak.status_code == 400 and "password" in weak.json()["error"]["message"]


def test_cloud_os_containers_with_image_password_and_time_limit(sqlite_user: Client, server_sqlite: LiveServer) -> None:
    c = sqlite_user
    before = dt.datetime.now(dt.UTC)
    made = c.post("/users/container", {"container_image": "cumulo/nginx", "password": "vncpass1", "port": 80,
                                       "time_limit_minutes": 30})
    assert made["container_image"] == "cumulo/nginx" and made["container_name"].startswith("test-user-")
    down = dt.datetime.fromisoformat(made["down_time"])
    assert dt.timedelta(minutes=29) < down - before < dt.timedelta(minutes=31)
    assert made["port"] and made["service_url"] == f"http://127.0.0.1:{made['port']}"
    inst = c.get(f"/instances/{made['container_id']}")
    assert inst["has_password"] is True and inst["expires_at"] is not None
    assert httpx.get(made["service_url"], timeout=10).status_code == 200  # the image really serves
    listed = c.get("/users/containers")
    assert [x["container_name"] for x in listed] == [made["container_name"]]
    assert c.get("/user")["active_containers"] == 1
    with register_and_login(server_sqlite) as other:
        r = httpx.delete(server_sqlite.url + "/users/container", params={"container_name": made["container_name"]},
                         headers=other.headers())
        assert r.status_code == 404
    r = httpx.delete(server_sqlite.url + "/users/container", headers=c.headers())
    assert r.status_code == 400 and "container_name" in r.json()["error"]["message"]
    c.delete("/users/container", params={"container_name": made["container_name"]})
    assert c.get("/users/containers") == []


def test_cloud_os_admin_deletes_anyones_container_by_name(sqlite_user: Client, server_sqlite: LiveServer) -> None:
    made = sqlite_user.post("/users/container", {"container_image": "cumulo/nginx", "password": "vncpass1"})
    assert made["port"] is None and made["service_url"] is None
    r = httpx.delete(f"{server_sqlite.url}/container/{made['container_name']}", headers=sqlite_user.headers())
    assert r.status_code == 403
    admin = _admin(server_sqlite)
    r = httpx.delete(f"{server_sqlite.url}/container/{made['container_name']}", headers=admin.headers())
    assert r.status_code == 204
    assert sqlite_user.get("/users/containers") == []
    r = httpx.delete(f"{server_sqlite.url}/container/{made['container_name']}", headers=admin.headers())
    assert r.status_code == 404


def _admin(live: LiveServer) -> Client:
    from cumulo.services.identity import service as identity

    email = new_email()

    async def make() -> None:
        async with live.platform.db.session() as session:  # type: ignore[union-attr]
            await identity.create_user(session, email=email, password=PASSWORD, name="Admin", role="admin",
                                       verified=True)
            await session.commit()

    live.call(make())
    client = Client(live.url)
    client.identity.login(email, PASSWORD)
    return client


@pytest.mark.parametrize("path", ["/health", "/"])
def test_cloudnest_health_and_info(server: LiveServer, path: str) -> None:
    r = httpx.get(server.url + path)
    assert r.status_code == 200
    body = r.json()
    if path == "/health":
        assert body["status"] == "healthy" and body["services"]["database"] == "connected" and body["timestamp"]
    else:
        assert body["name"] == "Cumulo" and body["status"] == "running" and body["docs"] == "/docs"

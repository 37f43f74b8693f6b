"""The /routes API on both databases: shapes, validation, ownership, hostnames, quota."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing.server import LiveServer
from tests.conftest import concurrent_statuses, register_and_login

PUBLIC = "http://93.184.216.34"  # a public address: no DNS needed, accepted by the outbound guard


def _slug(client: Client) -> str:
    return client.identity.me()["id"].replace("-", "")[:8]


def _status(call: Callable[[], object]) -> int:
    try:
        call()
    except ApiError as exc:
        return exc.status
    return 200


def test_create_get_list_delete(server: LiveServer, user: Client) -> None:
    route = user.routes.create("shop", PUBLIC + "/base", prefix="/api/", strip_prefix=True, methods=["POST", "GET"],
                               timeout_seconds=5, preserve_host=True)
    host = f"shop-{_slug(user)}.localhost"
    port, tls_port = server.settings.proxy_http_port, server.settings.proxy_https_port
    assert route["hostname"] == host
    assert route["url"] == f"http://{host}:{port}/api"
    assert route["https_url"] == f"https://{host}:{tls_port}/api"
    assert (route["prefix"], route["target"], route["methods"]) == ("/api", PUBLIC + "/base", ["GET", "POST"])
    assert route["strip_prefix"] and route["preserve_host"] and route["timeout_seconds"] == 5
    assert user.routes.get(route["id"]) == route
    assert user.routes.get("shop") == route
    assert [r["id"] for r in user.routes.list()] == [route["id"]]
    user.routes.delete("shop")
    assert _status(lambda: user.routes.get(route["id"])) == 404
    assert user.routes.list() == []


def test_another_users_route_is_404(user: Client, other_user: Client) -> None:
    route = user.routes.create("mine", PUBLIC)
    for call in (lambda: other_user.routes.get(route["id"]), lambda: other_user.routes.delete(route["id"]),
                 lambda: other_user.routes.create_key(route["id"]), lambda: other_user.routes.keys(route["id"])):
        assert _status(call) == 404
    assert other_user.routes.list() == []
    user.routes.delete(route["id"])


def test_name_and_path_conflicts(user: Client) -> None:
    user.routes.create("dup", PUBLIC)
    assert _status(lambda: user.routes.create("dup", PUBLIC)) == 409
    host = f"shared-{_slug(user)}.localhost"
    a = user.routes.create("one", PUBLIC, prefix="/a", hostname=host)
    b = user.routes.create("two", PUBLIC, prefix="/a/b", hostname=host)  # one user may share a hostname
    assert a["hostname"] == b["hostname"] == host
    assert _status(lambda: user.routes.create("three", PUBLIC, prefix="/a/", hostname=host)) == 409
    for name in ("dup", "one", "two"):
        user.routes.delete(name)


def test_custom_hostname_belongs_to_one_user(server: LiveServer, user: Client, other_user: Client) -> None:
    user.routes.create("claim", PUBLIC, hostname="API.Example.TEST.")
    assert user.routes.get("claim")["hostname"] == "api.example.test"
    with pytest.raises(ApiError) as err:
        other_user.routes.create("steal", PUBLIC, hostname="api.example.test")
    assert err.value.status == 409
    # a name under the base domain must be the caller's own generated form
    assert _status(lambda: other_user.routes.create("squat", PUBLIC, hostname=f"claim-{_slug(user)}.localhost")) == 400
    user.routes.delete("claim")
    other_user.routes.create("steal", PUBLIC, hostname="api.example.test")  # free again once released
    other_user.routes.delete("steal")


def test_concurrent_claims_of_one_hostname(server: LiveServer) -> None:
    clients = [register_and_login(server) for _ in range(4)]
    try:
        statuses = concurrent_statuses([lambda c=c: c.routes.create("race", PUBLIC, hostname="race.example.test")
                                        for c in clients])
        assert statuses == [201, 409, 409, 409]
    finally:
        for c in clients:
            for r in c.routes.list():
                c.routes.delete(r["id"])
            c.close()


@pytest.mark.parametrize("body", [
    {"name": "Bad_Name", "target": PUBLIC},
    {"name": "x" * 41, "target": PUBLIC},
    {"name": "ok", "target": PUBLIC, "prefix": "api"},
    {"name": "ok", "target": PUBLIC, "prefix": "/a//b"},
    {"name": "ok", "target": PUBLIC, "prefix": "/a/*"},
    {"name": "ok", "target": PUBLIC, "prefix": "/a/../b"},
    {"name": "ok", "target": PUBLIC, "prefix": "/a%2fb"},
    {"name": "ok", "target": PUBLIC, "methods": ["FETCH"]},
    {"name": "ok", "target": PUBLIC, "timeout_seconds": 0},
    {"name": "ok", "target": PUBLIC, "rate_limit": 0},
    {"name": "ok", "target": PUBLIC, "hostname": "*.example.test"},
    {"name": "ok", "target": PUBLIC, "hostname": "1.2.3.4"},
    {"name": "ok", "target": PUBLIC, "hostname": "nodot"},
    {"name": "ok", "target": PUBLIC, "hostname": "a.b:80"},
    {"name": "ok", "target": "ftp://example.test/"},
    {"name": "ok", "target": "http://user:pw@93.184.216.34/"},
    {"name": "ok", "target": PUBLIC + "/?q=1"},
    {"name": "ok", "target": "instance:abc"},
    {"name": "ok", "target": "instance:abc:99999"},
    {"name": "ok", "target": "nosuchkind:abc"},
    {"name": "ok", "target": PUBLIC, "extra": 1},
])
def test_invalid_bodies_are_400(user: Client, body: dict[str, object]) -> None:
    with pytest.raises(ApiError) as err:
        user.post("/routes", body)
    assert err.value.status == 400, body
    assert user.routes.list() == []


def test_unknown_instance_target_is_404(user: Client) -> None:
    assert _status(lambda: user.routes.create("ghost", "instance:00000000-0000-0000-0000-000000000000:80")) == 404


def test_route_quota(make_server: Callable[..., LiveServer]) -> None:
    live = make_server(quota_routes=2, proxy_driver="fake")
    with register_and_login(live) as client:
        client.routes.create("r1", PUBLIC)
        client.routes.create("r2", PUBLIC)
        with pytest.raises(ApiError) as err:
            client.routes.create("r3", PUBLIC)
        assert (err.value.status, err.value.code) == (403, "QUOTA_EXCEEDED")
        assert len(client.routes.list()) == 2

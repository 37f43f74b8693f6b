"""What every response shares: error model, request id, security headers, CORS, limits, metrics."""

from __future__ import annotations

import json

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email, register_and_login


def test_request_id_is_generated_and_honoured(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/health/live")
    assert r.json() == {"status": "ok"} and len(r.headers["x-request-id"]) >= 16
    r = httpx.get(f"{server.url}/health/live", headers={"X-Request-ID": "trace-123"})
    assert r.headers["x-request-id"] == "trace-123"
    r = httpx.get(f"{server.url}/nope", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
    assert r.json()["error"]["request_id"] == r.headers["x-request-id"]


def test_security_headers(server: LiveServer) -> None:
    h = httpx.get(f"{server.url}/health/live").headers
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert "default-src 'self'" in h["content-security-policy"] and "max-age" in h["strict-transport-security"]


def test_cors_preflight(server: LiveServer) -> None:
    r = httpx.options(f"{server.url}/auth/keys", headers={
        "Origin": "https://console.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] in ("*", "https://console.example")


def test_cors_origins_are_configurable(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(cors_origins="https://ok.example")
    pre = {"Access-Control-Request-Method": "GET"}
    assert httpx.options(f"{live.url}/health/live", headers={"Origin": "https://ok.example", **pre}).status_code == 200
    assert httpx.options(f"{live.url}/health/live", headers={"Origin": "https://evil.example", **pre}).status_code == 400


def test_unknown_route_and_method_use_the_error_model(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/does-not-exist")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = httpx.put(f"{server.url}/health/live")
    assert r.status_code == 405 and r.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("raw", [b"{bad", b"", b"null", b"[]", b'"str"', b"\xff\xfe\x00", b'{"email": {"$gt": ""}}',
                                 json.dumps({"email": "\u202e\u0000@x.io", "password": "\ud83d\ude00" * 10, "name": "\u00e9"}).encode()])
def test_malformed_bodies_are_400_never_500(server: LiveServer, raw: bytes) -> None:
    for path in ("/auth/register", "/auth/login", "/auth/forgot-password", "/auth/reset-password"):
        r = httpx.post(f"{server.url}{path}", content=raw, headers={"content-type": "application/json"})
        assert r.status_code in (400, 401, 409), (path, raw, r.status_code, r.text)
        assert "error" in r.json()


def test_wrong_types_and_missing_content_type(server: LiveServer, user: Client) -> None:
    r = httpx.post(f"{server.url}/auth/login", json={"email": ["x"], "password": {"a": 1}})
    assert r.status_code == 400
    r = httpx.post(f"{server.url}/auth/keys", content=b'{"name": "x"}', headers={"X-API-Key": user.api_key or ""})
    assert r.status_code in (201, 400)  # JSON without a content type: accepted or a clear 400, never 500


def test_huge_bodies_are_413(server: LiveServer) -> None:
    big = b'{"email": "' + b"a" * (11 * 1024 * 1024) + b'"}'
    r = httpx.post(f"{server.url}/auth/login", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(12):
            yield b"a" * (1024 * 1024)

    r = httpx.post(f"{server.url}/auth/login", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_long_and_unicode_strings(server: LiveServer) -> None:
    r = httpx.post(f"{server.url}/auth/register", json={"email": new_email(), "password": PASSWORD, "name": "Zoë 日本 🚀"})
    assert r.status_code == 201
    r = httpx.post(f"{server.url}/auth/register", json={"email": "a" * 300 + "@example.com", "password": PASSWORD, "name": "x"})
    assert r.status_code == 400
    r = httpx.post(f"{server.url}/auth/login", json={"email": "x" * 5000, "password": "y"})
    assert r.status_code == 400


def test_auth_endpoints_are_limited_per_ip(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(auth_rate_limit="5/minute")
    codes = [httpx.post(f"{live.url}/auth/login", json={"email": "a@b.io", "password": "x"}).status_code for _ in range(5)]
    assert codes == [401] * 5
    r = httpx.post(f"{live.url}/auth/forgot-password", json={"email": "a@b.io"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert httpx.get(f"{live.url}/health/live").status_code == 200  # other endpoints are not affected


def test_authenticated_calls_are_limited_per_user(make_server) -> None:  # type: ignore[no-untyped-def]
    """The bucket is the user's: a second key of the same user shares it (minting keys does not
    multiply the limit, issue 10 point 7); another user has a budget of their own."""
    live = make_server(rate_limit="3/minute")
    c = Client(live.url)
    address = new_email()
    c.identity.register(address, PASSWORD, "R")
    c.identity.login(address, PASSWORD)
    codes = [httpx.get(f"{live.url}/auth/keys", headers={"X-API-Key": c.api_key}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    second = Client(live.url)
    second.identity.login(address, PASSWORD)
    assert httpx.get(f"{live.url}/auth/me", headers={"X-API-Key": second.api_key}).status_code == 429
    other = register_and_login(live)
    assert httpx.get(f"{live.url}/auth/me", headers={"X-API-Key": other.api_key}).status_code == 200


def test_metrics_in_prometheus_format(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server()
    user = register_and_login(live)  # the first user is an administrator: /metrics needs an admin key
    user.identity.keys()
    text = httpx.get(f"{live.url}/metrics", headers={"Authorization": f"Bearer {user.api_key}"}).text
    assert '# TYPE cumulo_http_requests_total counter' in text
    assert 'cumulo_http_requests_total{method="GET",route="/auth/keys",status="200"}' in text
    assert 'cumulo_http_request_duration_seconds_bucket{method="GET",route="/auth/keys",le="+Inf"}' in text


@pytest.mark.docker  # ready means every check passes, Docker's too
def test_readiness_reports_checks(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/health/ready")
    body = r.json()
    assert r.status_code == 200 and body["status"] == "UP"
    assert body["checks"]["database"] == "CONNECTED" and "docker" in body["checks"] and body["time"].endswith("Z")


def test_readiness_is_503_when_a_check_fails(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server()

    async def broken() -> str:
        raise ConnectionError("down")

    live.platform.checks["docker"] = broken
    r = httpx.get(f"{live.url}/health/ready")
    assert r.status_code == 503 and r.json()["status"] == "DEGRADED" and r.json()["checks"]["docker"] == "DISCONNECTED"


def test_openapi_and_docs_are_served(server: LiveServer) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/auth/register" in spec["paths"] and "/auth/keys/{key_id}/rotate" in spec["paths"]
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_every_operation_has_its_own_id(server: LiveServer) -> None:
    """Client generators name methods by operationId: two routes sharing one (an alias path whose
    generated id equals its original's) would collide."""
    spec = httpx.get(f"{server.url}/openapi.json").json()
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()
           if isinstance(op, dict) and "operationId" in op]
    assert len(ids) > 100
    assert sorted({i for i in ids if ids.count(i) > 1}) == []

"""Request bodies: JSON is read whatever the content type (``curl -d`` labels it form-encoded),
a body that is not JSON says to send JSON, malformed JSON says where, NaN is not a number, and
raw-body routes (object uploads, function payloads) keep what the client sent."""

from __future__ import annotations

import httpx

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _raw(user: Client, method: str, path: str, headers: dict[str, str] | None = None, **kw: object) -> httpx.Response:
    return httpx.request(method, user.base_url + path, headers={**user.headers(), **(headers or {})}, **kw)


def test_json_labelled_as_a_form_is_read_as_json(server: LiveServer) -> None:
    email = new_email()
    body = f'{{"email":"{email}", "password":"{PASSWORD}", "name":"Curl User"}}'
    r = httpx.post(f"{server.url}/auth/register", content=body, headers=FORM)
    assert r.status_code == 201, r.text
    r = httpx.post(f"{server.url}/auth/login", content=f'{{"email":"{email}","password":"{PASSWORD}"}}')
    assert r.status_code == 200 and r.json()["api_key"].startswith("cml_")
    r = httpx.post(f"{server.url}/auth/login", content=f'{{"email":"{email}","password":"{PASSWORD}"}}',
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 200


def test_a_form_body_that_is_not_json_says_to_send_json(server: LiveServer) -> None:
    r = httpx.post(f"{server.url}/auth/login", data={"email": "a@example.com", "password": "x"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert "must be JSON" in error["message"] and "Content-Type: application/json" in error["message"]
    assert "application/x-www-form-urlencoded" in error["message"]
    assert "valid dictionary" not in error["message"]


def test_malformed_json_says_where_and_what(server: LiveServer) -> None:
    r = httpx.post(f"{server.url}/auth/login", content='{"email": }', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith("Invalid JSON at line 1 column 11: Expecting value"), message
    r = httpx.post(f"{server.url}/auth/login", content='{\n  "email": "a",\n  "password" "x"\n}',
                   headers={"Content-Type": "application/json"})
    assert "Invalid JSON at line 3 column 14: Expecting ':' delimiter" in r.json()["error"]["message"]
    assert r.json()["error"]["details"] == [{"field": "body", "message": r.json()["error"]["message"]}]


def test_nan_is_not_a_number(user: Client) -> None:
    for raw in ('"NaN"', "NaN", '"inf"', "Infinity"):
        r = _raw(user, "POST", "/instances", content=f'{{"name": "n1", "image": "cumulo/busybox", "cpus": {raw}}}',
                 headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        details = r.json()["error"]["details"]
        assert {"field": "cpus", "message": "is not a number (NaN and infinity are not accepted)"} in details, raw


def test_raw_body_routes_keep_the_content_type(user: Client) -> None:
    bucket = f"raw-{new_email()[1:9]}"
    _raw(user, "POST", "/storage/buckets", json={"name": bucket}).raise_for_status()
    r = _raw(user, "PUT", f"/storage/{bucket}/page.html", content=b"a=1&b=2", headers=FORM)
    assert r.status_code in (200, 201), r.text
    got = _raw(user, "GET", f"/storage/{bucket}/page.html")
    assert got.content == b"a=1&b=2" and got.headers["content-type"].startswith("application/x-www-form-urlencoded")

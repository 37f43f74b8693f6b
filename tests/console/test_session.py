"""The console's endpoints without a browser, on SQLite and PostgreSQL: the cookie session (HttpOnly,
SameSite=Strict, CSRF double submit bound to the key, logout revokes), the live event stream (the
caller's own events only), the console WebSocket's origin check for cookies, and the static files."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator

import httpx
import pytest
import websockets
import websockets.sync.client as ws_client

from cumulo.console import live as live_module
from cumulo.testing import server as testing
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email

CSRF = "X-CSRF-Token"


@contextlib.contextmanager
def browser(server: LiveServer) -> Iterator[httpx.Client]:
    """A registered user's cookie session, as the console's page holds it."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield _signed_in(client)


def _signed_in(client: httpx.Client) -> httpx.Client:
    email = new_email()
    assert client.post("/auth/register", json={"email": email, "password": PASSWORD, "name": "Web"}).status_code == 201
    r = client.post("/auth/session", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["csrf_token"] == client.cookies["cumulo_csrf"]
    return client


@pytest.fixture
def web(server: LiveServer) -> Iterator[httpx.Client]:
    with browser(server) as client:
        yield client


def token(client: httpx.Client) -> dict[str, str]:
    return {CSRF: client.cookies["cumulo_csrf"]}


def qname() -> str:
    return f"q-{new_email()[1:9]}"


def test_session_cookie_is_httponly_strict_and_authenticates(server: LiveServer) -> None:
    client = httpx.Client(base_url=server.url)
    email = new_email()
    client.post("/auth/register", json={"email": email, "password": PASSWORD, "name": "Web"})
    r = client.post("/auth/session", json={"email": email, "password": PASSWORD})
    cookies = {c.split("=", 1)[0]: c.lower() for c in r.headers.get_list("set-cookie")}
    assert "httponly" in cookies["cumulo_session"] and "samesite=strict" in cookies["cumulo_session"]
    assert "httponly" not in cookies["cumulo_csrf"] and "samesite=strict" in cookies["cumulo_csrf"]
    assert "api_key" not in r.json() and client.cookies["cumulo_session"] not in r.text  # the key stays in the cookie
    assert client.get("/auth/me").json()["email"] == email
    keys = client.get("/auth/keys").json()
    assert [k["login"] for k in keys] == [True]


def test_bad_logins_are_4xx_at_the_field(server: LiveServer) -> None:
    client = httpx.Client(base_url=server.url)
    r = client.post("/auth/session", json={"email": new_email(), "password": "Wr0ng-password"})
    assert r.status_code == 401 and "cumulo_session" not in r.headers.get("set-cookie", "")
    r = client.post("/auth/session", json={"email": "x@example.com"})
    assert r.status_code == 400 and r.json()["error"]["details"][0]["field"] == "password"
    assert client.post("/auth/session", content=b"\xff{").status_code == 400


def test_cookie_post_without_the_csrf_token_is_refused_and_creates_nothing(web: httpx.Client) -> None:
    name = qname()
    for headers in ({}, {CSRF: "forged"}, {CSRF: ""}):
        r = web.post("/queues", json={"name": name}, headers=headers)
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["error"]["message"]
    assert name not in [q["name"] for q in web.get("/queues").json()]
    assert web.post("/queues", json={"name": name}, headers=token(web)).status_code == 201
    assert web.delete(f"/queues/{name}").status_code == 403  # DELETE is unsafe too
    assert web.delete(f"/queues/{name}", headers=token(web)).status_code == 204


def test_another_sessions_token_does_not_pass(server: LiveServer, web: httpx.Client) -> None:
    with browser(server) as other:
        assert web.post("/queues", json={"name": qname()}, headers=token(other)).status_code == 403


def test_an_api_key_header_needs_no_csrf_token_and_wins_over_the_cookie(server: LiveServer, web: httpx.Client) -> None:
    key = web.post("/auth/keys", json={"name": "ci"}, headers=token(web)).json()["key"]
    with browser(server) as other:
        r = other.post("/queues", json={"name": qname()}, headers={"X-API-Key": key})
        assert r.status_code == 201
        mine = {q["name"] for q in web.get("/queues").json()}
        assert r.json()["name"] in mine and r.json()["name"] not in {q["name"] for q in other.get("/queues").json()}


def test_logout_revokes_the_session_key(server: LiveServer) -> None:
    client = _signed_in(httpx.Client(base_url=server.url))
    stolen = client.cookies["cumulo_session"]
    assert client.delete("/auth/session").status_code == 403  # logout is a write: it needs the token
    r = client.delete("/auth/session", headers=token(client))
    assert r.status_code == 204 and 'cumulo_session=""' in r.headers.get("set-cookie", "")
    assert client.get("/auth/me").status_code == 401
    assert httpx.get(f"{server.url}/auth/me", headers={"X-API-Key": stolen}).status_code == 401
    assert httpx.delete(f"{server.url}/auth/session").status_code == 204  # no session: nothing to do


def test_a_browser_is_sent_to_the_console_and_api_clients_are_not(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 302 and r.headers["location"] == "/console"
    assert httpx.get(f"{server.url}/").headers["content-type"].startswith("application/json")


def test_console_files_are_compressed_cached_and_confined(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/console/instances/anything", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip" and "app.js" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    js = httpx.get(f"{server.url}/console/assets/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{server.url}/console/assets/app.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304
    for path in ("/console/assets/%2e%2e/__init__.py", "/console/assets/..%2f..%2fapi/deps.py", "/console/assets/nope.js"):
        assert httpx.get(f"{server.url}{path}").status_code == 404, path
    assert "<script>" not in httpx.get(f"{server.url}/console").text  # no inline script (the CSP forbids it)


class Stream:
    """An open ``/events/stream``: its events in a queue, read by a thread."""

    def __init__(self, client: httpx.Client):
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        self._client = httpx.Client(base_url=str(client.base_url), cookies=client.cookies, timeout=60)
        self._ready = threading.Event()
        self._stop = False
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()
        assert self._ready.wait(30), "the stream never said ready"

    def _read(self) -> None:
        with contextlib.suppress(httpx.HTTPError), self._client.stream("GET", "/events/stream") as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            kind = None
            for line in resp.iter_lines():
                if self._stop:
                    return
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    if kind == "ready":
                        self._ready.set()
                    else:
                        self.events.put((kind or "", json.loads(line[6:])))

    def next_change(self, resource_type: str) -> dict:
        """The next change of ``resource_type``; on PostgreSQL a new stream may also replay a few events
        committed just before it opened (at least once), such as the user's own login."""
        while True:
            kind, event = self.events.get(timeout=30)
            assert kind == "change"
            self.seen.append(event)
            if event["resource_type"] == resource_type:
                return event

    def close(self) -> None:
        self._stop = True
        self._client.close()


def test_the_stream_carries_the_callers_own_events_only(server: LiveServer, web: httpx.Client) -> None:
    with browser(server) as other:
        mine, theirs = Stream(web), Stream(other)
        try:
            queue_id = web.post("/queues", json={"name": qname()}, headers=token(web)).json()["id"]
            event = mine.next_change("queue")
            assert (event["action"], event["resource_id"]) == ("queue.created", queue_id)
            # the other user's next queue event is their own, and nothing of the first user's came before it
            own = other.post("/queues", json={"name": qname()}, headers=token(other)).json()["id"]
            assert theirs.next_change("queue")["resource_id"] == own
            first_users = {queue_id, web.get("/auth/me").json()["id"]}
            assert not first_users & {e["resource_id"] for e in theirs.seen}
        finally:
            mine.close()
            theirs.close()


def test_the_stream_needs_a_caller(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/events/stream").status_code == 401
    assert httpx.get(f"{server.url}/events/stream", cookies={"cumulo_session": "cml_nope"}).status_code == 401


def test_the_console_websocket_refuses_a_cookie_from_another_origin(server: LiveServer, web: httpx.Client) -> None:
    url = server.url.replace("http://", "ws://") + "/instances/missing/console"
    cookie = f"cumulo_session={web.cookies['cumulo_session']}"
    host = server.url.split("://", 1)[1]
    for origin, code in ((f"http://{host}", 4404), ("http://evil.example", 4403)):
        with ws_client.connect(url, additional_headers={"Cookie": cookie}, origin=origin,
                               subprotocols=["cumulo.console"]) as conn:
            assert json.loads(conn.recv(timeout=30))["error"]["code"] in ("NOT_FOUND", "FORBIDDEN")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                conn.recv(timeout=30)
            assert closed.value.rcvd.code == code


def test_a_csrf_header_of_any_bytes_is_a_403_never_a_500(web: httpx.Client) -> None:
    for value in (b"\xe9\xff", b"x" * 4000, "ü".encode("latin-1")):
        r = web.post("/queues", json={"name": qname()}, headers={CSRF: value})
        assert r.status_code == 403, (value[:10], r.text)


def test_streams_per_user_are_capped(server: LiveServer, web: httpx.Client) -> None:
    streams = [Stream(web) for _ in range(live_module.MAX_STREAMS_PER_USER)]
    try:
        r = web.get("/events/stream")
        assert r.status_code == 429 and "live streams" in r.json()["error"]["message"]
        with browser(server) as other:  # another user's own allowance is untouched
            Stream(other).close()
    finally:
        for stream in streams:
            stream.close()


def test_a_dead_processs_console_cursor_is_swept(server: LiveServer) -> None:
    from sqlalchemy import text

    assert server.platform is not None
    platform = server.platform

    async def scenario() -> list[str]:
        async with platform.db.session() as session:
            await session.execute(text("INSERT INTO outbox_cursors (name, txid, seq, updated_at) VALUES "
                                       "('console.live.dead', 0, 0, 0), ('billing.meter.kept', 0, 0, 0)"))
            await session.commit()
        await live_module.Hub.of(platform)._sweep()
        async with platform.db.session() as session:
            names = (await session.execute(text("SELECT name FROM outbox_cursors WHERE name IN "
                                                "('console.live.dead', 'billing.meter.kept')"))).scalars().all()
            await session.execute(text("DELETE FROM outbox_cursors WHERE name = 'billing.meter.kept'"))
            await session.commit()
        return list(names)

    assert server.call(scenario()) == ["billing.meter.kept"]


def test_an_api_process_streams_what_another_process_committed(tmp_path, new_pg_database: str) -> None:  # type: ignore[no-untyped-def]
    """Scale-out on PostgreSQL: a stream open on an API-only process (``cumulo api``: no workers)
    carries the change another process committed (the outbox signal over LISTEN/NOTIFY, or the poll)."""
    first = LiveServer(testing.test_settings(str(tmp_path), new_pg_database), workers=False).start()
    second = LiveServer(testing.test_settings(str(tmp_path), new_pg_database)).start()
    try:
        _stream_across(first, second)
    finally:
        second.stop()
        first.stop()


def _stream_across(first: LiveServer, second: LiveServer) -> None:
    with browser(first) as web:
        stream = Stream(web)
        try:
            other_process = httpx.Client(base_url=second.url, cookies=web.cookies, timeout=30)
            queue_id = other_process.post("/queues", json={"name": qname()}, headers=token(web)).json()["id"]
            assert stream.next_change("queue")["resource_id"] == queue_id
        finally:
            stream.close()

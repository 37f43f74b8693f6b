"""Issue 10, host protection: owner-only data dir (point 5), bounded request heads on the API and S3
ports (point 6), secrets kept out of the server log (point 10) and /metrics behind an admin key
(point 18). Real servers on loopback, raw sockets for what a normal client cannot send."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from cumulo.client import Client
from cumulo.testing.server import LiveServer, free_port
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import PASSWORD, new_email, register_and_login
from tests.services.notify.receiver import Receiver, eventually

# --- point 6: request heads ----------------------------------------------------------------------

def _start(tmp_path_factory: pytest.TempPathFactory, **overrides: object) -> LiveServer:
    return LiveServer(settings_for(str(tmp_path_factory.mktemp("host")), **overrides)).start()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = _start(tmp_path_factory, header_timeout_seconds=1.0)
    yield server
    server.stop()


def _port(live: LiveServer, which: str) -> int:
    return live.settings.port if which == "api" else live.settings.s3_port


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _send_big_header(sock: socket.socket, total: int) -> bytes:
    """Send one header of ``total`` bytes, stopping as soon as the server answers; its answer."""
    chunk = b"a" * 65536
    sent = 0
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(chunk)
            sent += len(chunk)
        else:
            sock.sendall(b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    return _answer(sock)


@pytest.mark.parametrize("which", ["api", "s3"])
def test_a_huge_header_is_refused_431_while_others_are_served(live: LiveServer, which: str) -> None:
    port = _port(live, which)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 8000)  # in flight, under the limit
        # meanwhile another client is served
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code < 500
        answer = _send_big_header(sock, 100 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=30).status_code < 500


@pytest.mark.parametrize("which", ["api", "s3"])
def test_too_many_headers_are_refused_431(live: LiveServer, which: str) -> None:
    port = _port(live, which)
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(500)) + b"\r\n"
    assert len(head) < live.settings.max_header_bytes  # the count, not the size, is what is refused
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    fine = {f"X-H{i}": "v" for i in range(50)}
    assert httpx.get(f"http://127.0.0.1:{port}/", headers=fine, timeout=30).status_code < 500


@pytest.mark.parametrize("which", ["api", "s3"])
def test_a_slow_client_is_cut_off_with_408(live: LiveServer, which: str) -> None:
    with socket.create_connection(("127.0.0.1", _port(live, which))) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: loc")  # and never finishes
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_large_body_in_the_first_packet_is_not_taken_for_a_header(live: LiveServer) -> None:
    response = httpx.post(f"{live.url}/auth/login", content=b"x" * 200_000,
                          headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400  # parsed and refused as JSON, not as an oversized head


# --- point 5: the data dir ------------------------------------------------------------------------

def _open_to_others(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if (path == root or stat.S_ISREG(mode)) and mode & 0o077:
            found.append(f"{path.relative_to(root)} {stat.filemode(mode)}")
    return found


def test_data_dir_and_its_files_are_owner_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("fresh") / "data"  # does not exist yet: the server creates it
    old_umask = os.umask(0o022)  # the usual umask: modes must not depend on it
    try:
        server = LiveServer(settings_for(str(data_dir))).start()
        try:
            with register_and_login(server) as c:
                email = c.identity.me()["email"]
                c.identity.forgot_password(email)  # a mail with a reset token in the outbox
                c.storage.create_bucket("private-bucket")
                c.storage.put("private-bucket", "big", b"b" * (3 * 1024 * 1024))
                c.storage.put("private-bucket", "small", b"s" * 100)
            assert server.platform is not None and server.platform.installation_id
            running = {p.name for p in data_dir.rglob("*")}
            assert {"cumulo.db-wal", "cumulo.db-shm"} <= running, running
            assert _open_to_others(data_dir) == []  # while the server runs (WAL and SHM exist)
        finally:
            server.stop()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    names = {p.name for p in data_dir.rglob("*") if p.is_file()}
    assert {"cumulo.db", "installation-id"} <= names and any(n.endswith(".eml") for n in names)
    assert any(p.parent.name != "outbox" and "blob" in str(p) for p in data_dir.rglob("*") if p.is_file())
    assert _open_to_others(data_dir) == []


def test_an_open_data_dir_is_warned_about(tmp_path_factory: pytest.TempPathFactory,
                                          caplog: pytest.LogCaptureFixture) -> None:
    data_dir = tmp_path_factory.mktemp("open")
    os.chmod(data_dir, 0o755)
    (data_dir / "master.key").write_text("k")
    os.chmod(data_dir / "master.key", 0o644)
    caplog.set_level(logging.WARNING, logger="cumulo")
    from cumulo.platform import prepare_data_dir

    prepare_data_dir(data_dir)
    warned = [r.getMessage() for r in caplog.records if "readable by other users" in r.getMessage()]
    assert warned and "master.key" in warned[0] and "chmod -R go-rwx" in warned[0]


# --- point 18: /metrics -----------------------------------------------------------------------------

def test_metrics_need_an_admin_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    scrape = free_port()
    server = _start(tmp_path_factory, metrics_address=f"127.0.0.1:{scrape}")
    try:
        with register_and_login(server) as admin, register_and_login(server) as user:
            assert admin.identity.me()["role"] == "admin" and user.identity.me()["role"] == "user"
            url = f"{server.url}/metrics"
            anonymous = httpx.get(url)
            assert anonymous.status_code == 401 and "cumulo_http" not in anonymous.text
            assert httpx.get(url, headers={"X-API-Key": user.api_key}).status_code == 403
            ok = httpx.get(url, headers={"Authorization": f"Bearer {admin.api_key}"})  # what Prometheus sends
            assert ok.status_code == 200 and "cumulo_http_requests_total" in ok.text
            # the separate listener answers without a key, and only /metrics
            separate = httpx.get(f"http://127.0.0.1:{scrape}/metrics")
            assert separate.status_code == 200 and "cumulo_http_requests_total" in separate.text
            assert httpx.get(f"http://127.0.0.1:{scrape}/auth/me").status_code == 404
    finally:
        server.stop()


# --- point 10: secrets in the server log -------------------------------------------------------------

CUMULO = str(Path(sys.executable).parent / "cumulo")


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90  # only stops a hung test
    while True:
        try:
            httpx.get(f"{url}/health/live", timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None, "cumulo up did not start"
            time.sleep(0.1)


def test_keys_and_url_tokens_stay_out_of_the_server_log(tmp_path: Path) -> None:
    """The real ``cumulo up`` at log level info: a console opened with ``?api_key=``, one with the key
    in the subprotocol, and a cron target whose URL carries a token leave no secret in its output."""
    port, s3_port = free_port(), free_port()
    env = {**os.environ, "CUMULO_LOG_LEVEL": "info", "CUMULO_OUTBOUND_ALLOW": "127.0.0.0/8",
           "CUMULO_AUTH_RATE_LIMIT": "1000/minute", "CUMULO_PROXY_HTTP_PORT": str(free_port()),
           "CUMULO_PROXY_HTTPS_PORT": str(free_port()), "CUMULO_PROXY_LISTEN_HOST": "127.0.0.1",
           "CUMULO_PROXY_STOP_ON_EXIT": "true"}
    log_file = tmp_path / "server.log"
    with open(log_file, "wb") as out:
        proc = subprocess.Popen([CUMULO, "up", "--port", str(port), "--s3-port", str(s3_port),
                                 "--data-dir", str(tmp_path / "data")], env=env, start_new_session=True,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    token = f"tok{os.urandom(8).hex()}"
    try:
        _wait_up(url, proc)
        with Client(url) as c, Receiver() as receiver:
            email = new_email()
            c.identity.register(email, PASSWORD, "Log")
            c.identity.login(email, PASSWORD)
            key = c.api_key
            assert key
            ws_url = f"ws://127.0.0.1:{port}/instances/no-such-instance/console"
            with connect(f"{ws_url}?api_key={key}&cols=80", open_timeout=15) as ws:  # legacy: still accepted
                assert json.loads(ws.recv(timeout=15))["error"]["code"] == "NOT_FOUND"
            with connect(ws_url, subprotocols=["cumulo.console", f"cumulo.key.{key}"], open_timeout=15) as ws:
                assert ws.subprotocol == "cumulo.console"  # the key is never echoed
                assert json.loads(ws.recv(timeout=15))["error"]["code"] == "NOT_FOUND"
            job = c.cron.create("hook", "0 0 1 1 *", target_url=f"{receiver.url}?token={token}&x=1")
            c.cron.run(job["id"])
            assert token in receiver.wait_for(1)[0].path
            eventually(lambda: [r for r in c.cron.runs(job["id"]) if r["status"] == "succeeded"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    text = log_file.read_text(errors="replace")
    assert "WebSocket /instances/no-such-instance/console?api_key=***" in text, text[-3000:]  # the line is there
    assert key not in text and key[4:] not in text
    assert token not in text


def test_the_console_authenticates_like_the_api_rate_limit_included(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = _start(tmp_path_factory, rate_limit="3/minute")
    try:
        with register_and_login(server) as c:
            for _ in range(3):
                c.identity.me()
            with c.instances.console("no-such-instance") as ws:
                assert json.loads(ws.recv(timeout=15))["error"]["code"] == "RATE_LIMITED"
    finally:
        server.stop()

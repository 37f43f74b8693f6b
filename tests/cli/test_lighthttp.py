"""The CLI's HTTP client (client/lighthttp.py) does what httpx did for it: the same request bytes
(target, query, JSON, form and multipart bodies, uploads), the same answers read (JSON, text,
headers, gzip, streamed lines as they arrive), the same failures named the same (the SDK's
``ConnectionFailed`` text is compared with httpx's), TLS verified, a proxy in the environment left
to httpx. Each case runs the light client and httpx against the same real server."""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cumulo.cli import output
from cumulo.client import ApiError, Client, ConnectionFailed, lighthttp
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.seen: list[dict[str, Any]] = []
        self.connections = 0
        self.gate = threading.Event()
        self.first_line_sent = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            out = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return out
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_one(self) -> None:
        body = self._body()
        self.server.seen.append({"method": self.command, "target": self.path, "body": body,
                                 "headers": {k.lower(): v for k, v in self.headers.items()}})
        path = self.path.split("?")[0]
        if path == "/error":
            self._answer(404, json.dumps({"error": {"code": "NOT_FOUND", "message": "no such thing",
                                                    "details": {"id": "x"}}}).encode())
        elif path == "/text":
            self._answer(200, "héllo".encode("latin-1"), {"Content-Type": "text/plain; charset=latin-1"})
        elif path == "/gzip":
            self._answer(200, gzip.compress(b'{"packed": true}'), {"Content-Encoding": "gzip"})
        elif path == "/empty":
            self.send_response(204)
            self.end_headers()
        elif path == "/close":
            self._answer(200, b"{}", {"Connection": "close"})
            self.close_connection = True
        elif path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"n": 1}\r\n', b'{"n"', b': 2}\n', b"last"):
                self.wfile.write(b"%x\r\n%b\r\n" % (len(part), part))
                self.wfile.flush()
                if part.startswith(b'{"n": 1}'):
                    self.server.first_line_sent.set()
                    self.server.gate.wait(30)  # the rest only once the client has seen the first line
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._answer(200, json.dumps({"ok": True, "target": self.path}).encode(), {"X-Twice": "a"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_one


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def both(url: str) -> Iterator[tuple[str, Client]]:
    """The SDK over the light client and over httpx, same address."""
    yield "light", Client(url, http=lighthttp.Client(url))
    yield "httpx", Client(url)


def same_request(recorder: Recorder, call: Callable[[Client], Any]) -> dict[str, Any]:
    """Run ``call`` with both clients; the two requests the server saw must match (what httpx alone
    decides, the agent and a multipart boundary, aside); returns the light one."""
    recorder.seen.clear()
    for _, client in both(recorder.url):
        with client:
            call(client)
    light, reference = recorder.seen
    for seen in (light, reference):
        ctype = seen["headers"].get("content-type", "")
        if "boundary=" in ctype:
            boundary = ctype.split("boundary=")[1]
            seen["body"] = seen["body"].replace(boundary.encode(), b"B")
            seen["headers"]["content-type"] = ctype.replace(boundary, "B")
            seen["headers"]["content-length"] = str(len(seen["body"]))
        seen["headers"].pop("user-agent")
    assert light == reference
    return light


def test_requests_match_httpx_byte_for_byte(recorder: Recorder, tmp_path: Path) -> None:
    seen = same_request(recorder, lambda c: c.post("/things/a b/é", {"name": "ünï", "n": 1.5, "tags": [None, True]},
                                                  params={"flag": True, "off": False, "none": None, "many": [1, 2]}))
    assert seen["target"] == "/things/a%20b/%C3%A9?flag=true&off=false&none=&many=1&many=2"
    assert seen["body"] == '{"name":"ünï","n":1.5,"tags":[null,true]}'.encode()
    assert seen["headers"]["content-type"] == "application/json"
    # a query in the path is kept without params, replaced by params (even empty ones), as httpx does
    assert same_request(recorder, lambda c: c.get("/q?async=true&x=1"))["target"] == "/q?async=true&x=1"
    assert same_request(recorder, lambda c: c.get("/q?async=true&x=1", params={"x": 2}))["target"] == "/q?x=2"
    assert same_request(recorder, lambda c: c.get("/q?async=true", params={}))["target"] == "/q"
    assert same_request(recorder, lambda c: c.get("/q?keep=%2F"))["target"] == "/q?keep=%2F"  # escapes kept
    assert same_request(recorder, lambda c: c.get("/p{1}|`^%zz?a=|?`{"))["target"] == "/p%7B1%7D|%60^%zz?a=|?`{"
    assert same_request(recorder, lambda c: c.post("/empty-body"))["headers"]["content-length"] == "0"
    assert same_request(recorder, lambda c: c.delete("/x"))["method"] == "DELETE"
    # the API key header, extra headers, a form body and a multipart upload (functions deploy)
    def patch_with_key(c: Client) -> None:
        c.api_key = "cml_k"
        c.request("PATCH", "/p", headers={"X-Extra": "1"}, data={"a": "1"})

    seen = same_request(recorder, patch_with_key)
    assert seen["headers"]["x-api-key"] == "cml_k" and seen["headers"]["x-extra"] == "1"
    assert seen["body"] == b"a=1" and seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    seen = same_request(recorder, lambda c: c.request("POST", "/functions", data={"name": "f", "runtime": "python3.12"},
                                                      files={"code": ("code.zip", b"PK\x03\x04zip", "application/zip")}))
    assert b'name="code"; filename="code.zip"\r\nContent-Type: application/zip\r\n\r\nPK\x03\x04zip\r\n' in seen["body"]
    # uploads: bytes, a file (its length sent), an iterator (chunked), as httpx sends them
    data = os.urandom(200_000)
    (tmp_path / "blob").write_bytes(data)

    def upload_file(c: Client) -> None:
        with open(tmp_path / "blob", "rb") as fh:
            c.request("PUT", "/blob", content=fh)

    seen = same_request(recorder, upload_file)
    assert seen["body"] == data and seen["headers"]["content-length"] == "200000"
    seen = same_request(recorder, lambda c: c.request("PUT", "/it", content=iter([b"ab", b"", b"cd"])))
    assert seen["body"] == b"abcd" and seen["headers"]["transfer-encoding"] == "chunked"
    assert same_request(recorder, lambda c: c.request("PUT", "/io", content=io.BytesIO(b"xyz")))["body"] == b"xyz"


def test_answers_are_read_as_httpx_reads_them(recorder: Recorder) -> None:
    for name, c in both(recorder.url):
        with c:
            assert c.get("/json") == {"ok": True, "target": "/json"}, name
            assert c.get("/text") == "héllo", name  # the charset of the Content-Type
            assert c.get("/gzip") == {"packed": True}, name
            assert c.get("/empty") is None, name
            raw = c.request("HEAD", "/head", raw=True)
            assert raw.status_code == 200 and raw.content == b"", name
            assert dict(raw.headers)["x-twice"] == "a" and raw.headers["X-TWICE"] == "a", name
            with pytest.raises(ApiError) as caught:
                c.get("/error")
            assert (caught.value.status, caught.value.code, caught.value.message, caught.value.details) == \
                (404, "NOT_FOUND", "no such thing", {"id": "x"}), name
            with pytest.raises(ApiError) as caught, c.stream("GET", "/error"):  # a failed stream is read, raised
                pass
            assert caught.value.code == "NOT_FOUND", name


def test_one_connection_serves_a_command_and_a_closed_one_is_replaced(recorder: Recorder) -> None:
    with Client(recorder.url, http=lighthttp.Client(recorder.url)) as c:
        for _ in range(3):
            c.get("/json")
        assert recorder.connections == 1
        c.get("/close")  # the server says it closes: the next request opens another connection
        c.get("/json")
        c.get("/json")
        assert recorder.connections == 2


def test_a_streamed_answer_arrives_line_by_line(recorder: Recorder) -> None:
    """The first line is handed over while the server still holds the rest (it sends more only once
    the client has it), lines split on \\r\\n, \\n and across chunks, as httpx splits them."""
    for name, c in both(recorder.url):
        recorder.gate.clear()
        with c, c.stream("GET", "/stream") as response:
            lines = response.iter_lines()
            assert next(lines) == '{"n": 1}', name
            recorder.gate.set()
            assert list(lines) == ['{"n": 2}', "last"], name


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def failure(client: Client, call: Callable[[Client], Any]) -> str:
    with client, pytest.raises(ConnectionFailed) as caught:
        call(client)
    return str(caught.value)


def test_failures_are_named_as_httpx_names_them(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{refused_port()}"
    for call in (lambda c: c.get("/x"), lambda c: c.health()):
        light = failure(Client(url, http=lighthttp.Client(url)), call)
        assert light == failure(Client(url), call)
    assert "ConnectError" in failure(Client(url, http=lighthttp.Client(url)), lambda c: c.get("/x"))
    # no scheme, an unknown scheme
    for bad in ("127.0.0.1:8080", "ftp://127.0.0.1"):
        assert failure(Client(bad, http=lighthttp.Client(bad)), lambda c: c.get("/x")) \
            == failure(Client(bad), lambda c: c.get("/x"))

    def serve(reply: Callable[[socket.socket], None]) -> tuple[str, socket.socket]:
        listener = socket.create_server(("127.0.0.1", 0))

        def run() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.recv(65536)
                reply(conn)

        threading.Thread(target=run, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}", listener

    held: list[socket.socket] = []
    cases = {"RemoteProtocolError": lambda conn: conn.close(),  # closed without an answer
             "ReadTimeout": held.append}  # never answers
    for expected, reply in cases.items():
        address, listener = serve(reply)
        try:
            light = failure(Client(address, http=lighthttp.Client(address, timeout=0.5)), lambda c: c.get("/x"))
            assert light == failure(Client(address, timeout=0.5), lambda c: c.get("/x"))
            assert light.endswith(expected)
        finally:
            listener.close()
    for conn in held:
        conn.close()


def test_tls_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate nobody vouches for is refused (ConnectError, as with httpx); trusted through
    SSL_CERT_FILE it answers."""
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = Recorder()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        light = failure(Client(url, http=lighthttp.Client(url)), lambda c: c.get("/json"))
        assert light == failure(Client(url), lambda c: c.get("/json")) and light.endswith("ConnectError")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        for _, c in both(url):
            with c:
                assert c.get("/json") == {"ok": True, "target": "/json"}
        assert server.seen[0]["headers"]["host"] == f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_cli_leaves_a_proxy_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(output, "STATE", {**output.STATE, "url": "http://127.0.0.1:9"})
    with output.client() as c:
        assert isinstance(c._http, lighthttp.Client)
    monkeypatch.setenv("https_proxy", "http://proxy.invalid:3128")
    with output.client() as c:
        assert isinstance(c._http, httpx.Client)


def test_the_sdk_over_the_light_client_against_the_server(server_sqlite: LiveServer, tmp_path: Path) -> None:
    """Log in (the key sent after), a 401 without it, an object stored, read, streamed back and its
    headers, with the real server."""
    owner = register_and_login(server_sqlite)
    with Client(server_sqlite.url, api_key=owner.api_key, http=lighthttp.Client(server_sqlite.url)) as c:
        me = c.identity.me()
        assert me["email"] == owner.identity.me()["email"]
        bucket = f"light-{os.getpid()}-{os.urandom(3).hex()}"
        c.storage.create_bucket(bucket)
        data = os.urandom(300_000)
        c.storage.put(bucket, "dir/blob.bin", data)
        assert c.storage.get(bucket, "dir/blob.bin") == data
        out = io.BytesIO()
        assert c.storage.download(bucket, "dir/blob.bin", out) == len(data) and out.getvalue() == data
        assert c.storage.head(bucket, "dir/blob.bin")["content-length"] == str(len(data))
        with pytest.raises(ApiError) as caught:
            c.storage.get(bucket, "missing")
        assert caught.value.status == 404
        c.api_key = None
        with pytest.raises(ApiError) as caught:
            c.identity.me()
        assert caught.value.status == 401
    owner.close()


def test_a_cli_command_imports_no_httpx() -> None:
    code = ("import sys; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('httpx', 'rich.traceback', 'pygments') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code, "instances", "list"], capture_output=True, text=True,
                          timeout=60, check=False, env={"CUMULO_URL": f"http://127.0.0.1:{refused_port()}",
                                                        "PATH": "/usr/bin:/bin"})
    assert "cannot reach Cumulo" in done.stdout + done.stderr and "ConnectError" in done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"

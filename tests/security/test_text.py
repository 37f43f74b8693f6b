"""Issue 10, point 9: a NUL character is never a 500. Queue messages refuse it (and every character
SQS does not allow) with 400 InvalidMessageContents on both databases; elsewhere PostgreSQL, whose
text cannot hold NUL, answers 400 where SQLite stores the value as given; text produced by user code
(function logs, a cron target's answer) is stored with U+FFFD in place of NUL."""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer

NUL = "a\u0000b"


def _zip() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("main.py", "def handler(event, context):\n    return event\n")
    return base64.b64encode(buf.getvalue()).decode()


def _call(user: Client, method: str, path: str, body: Any = None) -> httpx.Response:
    """JSON with \\u escapes (a lone surrogate cannot be sent as UTF-8)."""
    content = None if body is None else json.dumps(body).encode()
    return httpx.request(method, f"{user.base_url}{path}", content=content, timeout=60,
                         headers={**user.headers(), "Content-Type": "application/json"})


def _postgres(server: LiveServer) -> bool:
    assert server.platform is not None
    return server.platform.db.is_postgres


def _n() -> str:
    return f"n{uuid.uuid4().hex[:10]}"


@pytest.fixture
def targets(user: Client) -> dict[str, str]:
    queue = user.queues.create(_n())["id"]
    topic = user.notify.create_topic(_n())["id"]
    bucket = _n()
    user.storage.create_bucket(bucket)
    secret = user.secrets.create(_n(), "v")["name"]
    return {"queue": queue, "topic": topic, "bucket": bucket, "secret": secret}


def test_queue_messages_refuse_characters_sqs_does_not_allow(user: Client, targets: dict[str, str]) -> None:
    q = targets["queue"]
    for body in (NUL, "bell \u0007", "\ufffe", "lone \ud800 surrogate"):
        # a lone surrogate is not even a string to the JSON parser: INVALID_INPUT before the queue sees it
        codes = ("InvalidMessageContents", "INVALID_INPUT") if "\ud800" in body else ("InvalidMessageContents",)
        for payload in ({"body": body}, {"body": "ok", "attributes": {"k": body}}, {"body": "ok", "attributes": {body: "v"}}):
            r = _call(user, "POST", f"/queues/{q}/messages", payload)
            assert r.status_code == 400 and r.json()["error"]["code"] in codes, (payload, r.text)
        r = _call(user, "POST", f"/queues/{q}/messages/batch", {"messages": [{"body": "ok"}, {"body": body}]})
        assert r.status_code == 400 and r.json()["error"]["code"] in codes, r.text
    assert user.queues.receive(q, max_messages=10) == []  # nothing half-sent from the batch
    ok = "tab\t nl\n cr\r émoji \U0001f600 \ue000 \U0010fff0"
    user.queues.send(q, ok)
    assert user.queues.receive(q)[0]["body"] == ok


CASES = [
    ("POST", "/queues", {"name": NUL}),
    ("GET", "/queues/a%00b", None),
    ("POST", "/topics", {"name": NUL}),
    ("GET", "/topics/a%00b", None),
    ("POST", "/topics/{topic}/publish", {"message": NUL}),
    ("POST", "/topics/{topic}/publish", {"message": "m", "subject": NUL}),
    ("POST", "/topics/{topic}/subscriptions", {"protocol": "queue", "endpoint": NUL}),
    ("POST", "/secrets", {"name": "s-nul2", "value": "v", "description": NUL}),
    ("GET", "/secrets/a%00b", None),
    ("POST", "/cron", {"name": "c-nul", "schedule": "@daily", "target_url": "http://127.0.0.1:9/x", "payload": NUL}),
    ("POST", "/cron", {"name": NUL, "schedule": "@daily", "target_url": "http://127.0.0.1:9/x"}),
    ("POST", "/cron", {"name": "c-nul3", "schedule": "@daily", "target_url": "http://127.0.0.1:9/x",
                       "headers": {"X-A": NUL}}),
    ("POST", "/functions", {"name": "f-nul", "runtime": "python3.12", "code_zip": "{zip}", "env": {"K": NUL}}),
    ("POST", "/functions", {"name": "f-nul2", "runtime": "python3.12", "code_zip": "{zip}", "handler": NUL}),
    ("POST", "/storage/buckets", {"name": NUL}),
    ("PUT", "/storage/{bucket}/a%00b", b"data"),
    ("GET", "/storage/{bucket}/a%00b", None),
    ("GET", "/storage/{bucket}?prefix=a%00b", None),
    ("POST", "/auth/keys", {"name": NUL}),
    ("POST", "/vpcs", {"name": NUL}),
    ("POST", "/volumes", {"name": NUL, "size_gb": 1}),
    ("POST", "/instances", {"name": NUL, "image": "cumulo/busybox"}),
    ("POST", "/instances", {"name": "i-nul", "image": "cumulo/busybox", "env": {"K": NUL}}),
]


@pytest.mark.parametrize(("method", "path", "body"), CASES, ids=[f"{m} {p} {i}" for i, (m, p, _) in enumerate(CASES)])
def test_nul_is_a_400_never_a_500(server: LiveServer, user: Client, targets: dict[str, str], method: str, path: str,
                                  body: Any) -> None:
    path = path.format(**targets)
    if isinstance(body, bytes):
        r = httpx.request(method, f"{user.base_url}{path}", content=body, headers=user.headers(), timeout=60)
    else:
        if isinstance(body, dict) and body.get("code_zip") == "{zip}":
            body = {**body, "code_zip": _zip()}
        r = _call(user, method, path, body)
    if _postgres(server):  # PostgreSQL text cannot hold NUL: refused, cleanly
        assert r.status_code in (400, 404), (r.status_code, r.text)
        assert r.json()["error"]["code"] != "INTERNAL"
    else:  # SQLite stores it as given
        assert r.status_code < 500, (r.status_code, r.text)
    # the connection and the database stay usable
    assert user.queues.get(targets["queue"])["id"] == targets["queue"]


def test_values_stored_as_json_or_encrypted_keep_their_nul(user: Client, targets: dict[str, str]) -> None:
    """Where a NUL can be stored faithfully (a secret's encrypted value, JSON attributes) it is kept."""
    name = _n()
    user.secrets.create(name, NUL)
    assert user.secrets.get(name)["value"] == NUL
    user.secrets.put(targets["secret"], NUL)
    assert user.secrets.get(targets["secret"])["value"] == NUL
    r = _call(user, "POST", f"/topics/{targets['topic']}/publish", {"message": "m", "attributes": {"k": NUL}})
    assert r.status_code == 202, r.text


def test_nul_in_names_on_register_and_login(server: LiveServer) -> None:
    for path, body in (("/auth/register", {"email": "a@b.c", "password": "Sup3r-secret!", "name": NUL}),
                       ("/auth/register", {"email": f"x{NUL}@b.c", "password": "Sup3r-secret!", "name": "n"}),
                       ("/auth/login", {"email": f"x{NUL}@b.c", "password": "Sup3r-secret!"}),
                       ("/auth/login", {"email": "x@b.c", "password": NUL})):
        r = httpx.post(f"{server.url}{path}", json=body, timeout=30)
        assert r.status_code in ((400, 401) if _postgres(server) else (200, 201, 202, 400, 401)), (path, r.text)


def test_nul_on_the_s3_port_is_a_400(server: LiveServer, user: Client, targets: dict[str, str]) -> None:
    import botocore.exceptions

    from tests.services.storage.conftest import s3_client

    s3 = s3_client(server, user.storage.create_credentials("nul"))
    bucket = targets["bucket"]
    calls = [lambda: s3.put_object(Bucket=bucket, Key=NUL, Body=b"x"),
             lambda: s3.get_object(Bucket=bucket, Key=NUL),
             lambda: s3.list_objects_v2(Bucket=bucket, Prefix=NUL),
             lambda: s3.create_multipart_upload(Bucket=bucket, Key=NUL),
             lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": NUL})]
    for i, call in enumerate(calls):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call()
            pytest.fail(f"call {i} succeeded")
        status = err.value.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status in (400, 404), (status, err.value.response["Error"])
    s3.put_object(Bucket=bucket, Key="still-fine", Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key="still-fine")["Body"].read() == b"ok"


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_nul_in_what_a_function_prints_or_a_cron_target_answers_is_stored(user: Client) -> None:
    """Text produced by user code (function logs, a cron target's answer) may carry NUL: it is stored
    with U+FFFD in its place instead of failing the write on PostgreSQL."""
    from cumulo.client.functions import zip_files
    from tests.services.notify.receiver import eventually

    code = zip_files({"main.py": "def handler(event, context):\n    print('before\\x00after')\n    return 'r\\x00'\n"})
    fn = user.functions.create(_n(), "python", code)
    out = user.functions.invoke(fn["id"], {"k": 1})
    assert out["status"] == "SUCCESS" and out["result"] == "r\u0000", out  # JSON keeps it escaped, intact
    assert "before\ufffdafter" in out["logs_tail"]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "8")
            self.end_headers()
            self.wfile.write(b"ok\x00done!")

        def log_message(self, *args: Any) -> None:
            return None

    target = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    try:
        job = user.cron.create(_n(), "0 0 1 1 *", target_url=f"http://127.0.0.1:{target.server_address[1]}/")
        user.cron.run(job["id"])
        run = eventually(lambda: [r for r in user.cron.runs(job["id"]) if r["status"] != "running"])[0]
    finally:
        target.shutdown()
        target.server_close()
    assert run["status"] == "succeeded" and run["response_excerpt"] == "ok\ufffddone!", (run["error"], run)

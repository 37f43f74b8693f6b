"""Running functions in real containers (SQLite server: the database does not matter here)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cumulo.client import Client
from cumulo.testing import eventually

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def fname() -> str:
    return f"x-{uuid.uuid4().hex[:8]}"


def wait_for(fn, what: str, limit: float = 60.0) -> Any:  # type: ignore[no-untyped-def]
    return eventually(fn, limit, 0.2, what=what)


def _finished(invocation: dict[str, Any], statuses: tuple[str, ...]) -> dict[str, Any] | None:
    return invocation if invocation["status"] in statuses else None


def test_python_and_node_return_values_and_structured_errors(sqlite_user: Client, py_zip: bytes,
                                                             node_zip: bytes) -> None:
    c = sqlite_user
    py = c.functions.create(fname(), "python", py_zip)
    out = c.functions.invoke(py["id"], {"a": 1})
    assert out["status"] == "SUCCESS" and out["result"]["echo"] == {"a": 1} and out["result"]["fn"] == py["name"]
    assert 'got {"a": 1}' in out["logs_tail"] and out["cold_start"] is True
    again = c.functions.invoke(py["id"], {"a": 2})
    assert again["cold_start"] is False and again["result"]["host"] == out["result"]["host"]  # same warm container

    failing = c.functions.create(fname(), "python", py_zip, handler="main.fail")
    err = c.functions.invoke(failing["id"], {"x": 1})
    assert err["status"] == "FAILED" and err["result"] is None
    assert err["error"]["type"] == "ValueError" and "bad input" in err["error"]["message"]
    assert any("main.py" in line for line in err["error"]["stack"])

    coro = c.functions.create(fname(), "python", py_zip, handler="main.coro")
    assert c.functions.invoke(coro["id"])["result"] == {"async": True, "left_ms": True}

    node = c.functions.create(fname(), "nodejs", node_zip)
    res = c.functions.invoke(node["name"], {"n": 3})
    assert res["status"] == "SUCCESS" and res["result"]["echo"] == {"n": 3} and res["result"]["node"].startswith("v")
    assert "node got" in res["logs_tail"]
    node_fail = c.functions.create(fname(), "nodejs", node_zip, handler="index.fail")
    bad = c.functions.invoke(node_fail["id"], {})
    assert bad["status"] == "FAILED" and bad["error"]["type"] == "TypeError" and bad["error"]["message"] == "node says no"
    sync = c.functions.create(fname(), "nodejs", node_zip, handler="index.sync")
    # the raw body (no {payload, async} envelope) is the event too
    assert c.post(f"/functions/{sync['id']}/invoke", json={"n": 21})["result"] == {"doubled": 42}

    logs = c.functions.logs(py["id"])
    assert len(logs) == 2 and any('got {"a": 2}' in entry["logs"] for entry in logs)


def test_timeout_kills_and_replaces_the_container(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    fn = c.functions.create(fname(), "python", py_zip, handler="main.sleepy", timeout_seconds=1)
    first = c.functions.invoke(fn["id"], {"seconds": 0})
    out = c.functions.invoke(fn["id"], {"seconds": 30})
    assert out["status"] == "FAILED" and out["error"]["type"] == "Runtime.Timeout"
    after = c.functions.invoke(fn["id"], {"seconds": 0})
    assert after["status"] == "SUCCESS" and after["cold_start"] is True
    assert after["result"]["host"] != first["result"]["host"]


def test_memory_limit(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    fn = c.functions.create(fname(), "python", py_zip, handler="main.hog", memory_mb=64)
    out = c.functions.invoke(fn["id"], {})
    assert out["status"] == "FAILED" and out["error"]["type"] == "Runtime.OutOfMemory"


def test_sandbox_tmp_root_network_and_injected_secret(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    files = c.functions.create(fname(), "python", py_zip, handler="main.files")
    result = c.functions.invoke(files["id"])["result"]
    assert result["tmp"] == "ok"
    assert result["root"] in ("OSError", "PermissionError") and result["code"] in ("OSError", "PermissionError")
    net = c.functions.create(fname(), "python", py_zip, handler="main.network")
    assert c.functions.invoke(net["id"])["result"]["network"] is False

    secret = f"fn-secret-{uuid.uuid4().hex[:6]}"
    c.secrets.create(secret, "s3cr3t-for-function")
    env = c.functions.create(fname(), "python", py_zip, handler="main.env", env={"PLAIN": "yes"},
                             env_secrets={"DB_PASSWORD": secret})
    result = c.functions.invoke(env["id"], {"names": ["PLAIN", "DB_PASSWORD"]})["result"]
    assert result == {"PLAIN": "yes", "DB_PASSWORD": "s3cr3t-for-function"}
    assert "s3cr3t-for-function" not in str(c.functions.get(env["id"])) + str(c.events(limit=100))


def test_concurrency_up_to_max_concurrency(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    fn = c.functions.create(fname(), "python", py_zip, handler="main.sleepy", max_concurrency=2)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: c.functions.invoke(fn["id"], {"seconds": 1}), range(4)))
    assert all(r["status"] == "SUCCESS" for r in results)
    hosts = {r["result"]["host"] for r in results}
    assert len(hosts) == 2  # two containers served four calls, never more than max_concurrency
    assert c.functions.get(fn["id"])["warm_containers"] == 2


def test_update_serves_the_new_version(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    fn = c.functions.create(fname(), "python", py_zip)
    assert c.functions.invoke(fn["id"], 1)["version"] == 1
    c.functions.update(fn["id"], handler="main.fail")
    out = c.functions.invoke(fn["id"], 1)
    assert out["version"] == 2 and out["status"] == "FAILED"


def test_async_invoke_retries_then_succeeds(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    fn = c.functions.create(fname(), "python", py_zip, handler="main.flaky")
    accepted = c.post(f"/functions/{fn['id']}/invoke?async=true", json={"succeed_on": 3}, raw=True)
    assert accepted.status_code == 202
    inv = accepted.json()
    assert inv["status"] == "PENDING"
    done = wait_for(lambda: _finished(c.functions.invocation(fn["id"], inv["id"]), ("SUCCESS", "FAILED")),
                    "async invocation")
    assert done["status"] == "SUCCESS" and done["attempts"] == 3 and done["result"] == {"attempt": 3}


def test_async_failure_goes_to_the_dead_letter_queue(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    dlq = c.queues.create(f"dlq-{uuid.uuid4().hex[:6]}")
    fn = c.functions.create(fname(), "python", py_zip, handler="main.fail", dead_letter_queue=dlq["name"])
    inv = c.functions.invoke(fn["id"], {"n": 1}, is_async=True)
    done = wait_for(lambda: _finished(c.functions.invocation(fn["id"], inv["id"]), ("FAILED",)), "async failure")
    assert done["attempts"] == 3 and done["error"]["type"] == "ValueError"
    msgs = wait_for(lambda: c.queues.receive(dlq["id"], max_messages=1), "dead letter")
    assert inv["id"] in msgs[0]["body"]


def test_queue_event_source_deletes_only_after_success(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    queue = c.queues.create(f"src-{uuid.uuid4().hex[:6]}", visibility_timeout=1)
    fn = c.functions.create(fname(), "python", py_zip, handler="main.records", timeout_seconds=5)
    source = c.functions.add_event_source(fn["id"], queue["name"], batch_size=5)
    assert source["queue_id"] == queue["id"] and source["batch_size"] == 5
    for body in ("one", "two", "three"):
        c.queues.send(queue["id"], body)
    wait_for(lambda: c.queues.stats(queue["id"])["total"] == 0, "queue drained")
    handled = [i for i in c.functions.invocations(fn["id"]) if i["source"] == "queue" and i["status"] == "SUCCESS"]
    assert sum(i["result"]["count"] for i in handled) == 3

    c.queues.send(queue["id"], "poison")
    wait_for(lambda: any(e["status"] == "FAILED" for e in c.functions.logs(fn["id"])), "failed batch")
    c.functions.remove_event_source(fn["id"], source["id"])
    assert c.queues.stats(queue["id"])["total"] == 1  # the failed batch stays in the queue for a retry

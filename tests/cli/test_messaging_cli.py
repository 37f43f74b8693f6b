"""`cumulo queues`, `topics`, `subscriptions` and `cron` against a live server, as a user types them."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.conftest import PASSWORD, new_email


@pytest.fixture
def logged_in(cli):  # type: ignore[no-untyped-def]
    email = new_email()
    cli("register", "--email", email, "--name", "Queue User", "--password", PASSWORD)
    cli("login", "--email", email, "--password", PASSWORD)
    return cli


def _json(cli, *args: str):  # type: ignore[no-untyped-def]
    return json.loads(cli("--json", *args).output)


def test_queue_round_trip(logged_in) -> None:  # type: ignore[no-untyped-def]
    cli = logged_in
    name = f"jobs-{uuid.uuid4().hex[:6]}"
    queue = _json(cli, "queues", "create", name, "--visibility-timeout", "60")
    assert queue["name"] == name and queue["visibility_timeout"] == 60
    assert name in [q["name"] for q in _json(cli, "queues", "list")]
    sent = _json(cli, "queues", "send", name, "hello", "-a", "kind=greeting")
    got = _json(cli, "queues", "receive", name, "--wait", "2")
    assert [m["message_id"] for m in got] == [sent["message_id"]]
    assert got[0]["body"] == "hello" and got[0]["attributes"] == {"kind": "greeting"}
    assert _json(cli, "queues", "stats", name)["in_flight"] == 1
    assert "deleted" in cli("queues", "delete-message", name, got[0]["receipt_handle"]).output
    assert _json(cli, "queues", "stats", name)["in_flight"] == 0
    for body in ("a", "b", "c"):
        cli("queues", "send", name, body)
    assert _json(cli, "queues", "purge", name, "--yes") == {"purged": 3}
    assert "no messages" in cli("queues", "receive", name).output
    missing = cli("queues", "send", "no-such-queue", "x", ok=False)
    assert missing.exit_code == 1 and "404" in missing.output
    cli("queues", "delete", name, "--yes")
    assert name not in [q["name"] for q in _json(cli, "queues", "list")]


def test_topic_publishes_into_a_subscribed_queue(logged_in) -> None:  # type: ignore[no-untyped-def]
    cli = logged_in
    queue, topic = f"inbox-{uuid.uuid4().hex[:6]}", f"news-{uuid.uuid4().hex[:6]}"
    cli("queues", "create", queue)
    cli("topics", "create", topic)
    sub = _json(cli, "subscriptions", "create", topic, "--protocol", "queue", "--endpoint", queue, "--raw")
    published = _json(cli, "topics", "publish", topic, "breaking", "--subject", "s1")
    got = _json(cli, "queues", "receive", queue, "--wait", "10")
    assert [m["body"] for m in got] == ["breaking"]
    deliveries = _json(cli, "subscriptions", "deliveries", sub["id"])
    assert [d["message_id"] for d in deliveries] == [published["message_id"]]
    assert deliveries[0]["status"] == "delivered"
    cli("subscriptions", "delete", sub["id"], "--yes")
    cli("topics", "delete", topic, "--yes")


def test_cron_job_runs_on_demand_and_pauses(logged_in) -> None:  # type: ignore[no-untyped-def]
    cli = logged_in
    queue, job = f"ticks-{uuid.uuid4().hex[:6]}", f"tick-{uuid.uuid4().hex[:6]}"
    cli("queues", "create", queue)
    created = _json(cli, "cron", "create", job, "--schedule", "@daily", "--queue", queue, "--payload", "tick")
    assert created["next_run_at"]
    bad = cli("cron", "create", "bad-job", "--schedule", "61 * * * *", "--queue", queue, ok=False)
    assert bad.exit_code == 1 and "400" in bad.output
    cli("cron", "run", job)
    got = _json(cli, "queues", "receive", queue, "--wait", "10")
    assert [m["body"] for m in got] == ["tick"]
    deadline = time.monotonic() + 10
    while not (runs := _json(cli, "cron", "runs", job)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(runs) == 1 and runs[0]["error"] is None
    assert _json(cli, "cron", "pause", job)["status"] == "PAUSED"
    assert _json(cli, "cron", "resume", job)["status"] == "ACTIVE"
    cli("cron", "delete", job, "--yes")

"""CLI commands for every API feature: queues send --batch, topics show, cron create --function and
cron update, functions deploy --vpc/--dead-letter-queue and a redeploy that keeps the runtime."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest


def _json(cli, *args: str):  # type: ignore[no-untyped-def]
    return json.loads(cli("--json", *args).output)


def test_queues_send_batch(sqlite_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = f"bulk-{uuid.uuid4().hex[:6]}"
    sqlite_cli("queues", "create", name)
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"message {i}\n" for i in range(12)) + "\n")
    sent = _json(sqlite_cli, "queues", "send", name, "--batch", str(lines))
    assert len(sent) == 12 and len({m["message_id"] for m in sent}) == 12
    as_json = tmp_path / "messages.json"
    as_json.write_text(json.dumps(["plain", {"body": "with attrs", "attributes": {"k": "v"}}]))
    assert len(_json(sqlite_cli, "queues", "send", name, "--batch", str(as_json))) == 2
    piped = sqlite_cli("--json", "queues", "send", name, "--batch", "-", input="one\ntwo\n")
    assert len(json.loads(piped.output)) == 2
    assert _json(sqlite_cli, "queues", "stats", name)["total"] == 16
    both = sqlite_cli("queues", "send", name, "body", "--batch", str(lines), ok=False)
    assert both.exit_code == 2 and "not both" in both.output


def test_topics_show(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    topic, queue = f"t-{uuid.uuid4().hex[:6]}", f"q-{uuid.uuid4().hex[:6]}"
    made = _json(sqlite_cli, "topics", "create", topic)
    sqlite_cli("queues", "create", queue)
    sub = _json(sqlite_cli, "subscriptions", "create", topic, "--protocol", "queue", "--endpoint", queue)
    shown = _json(sqlite_cli, "topics", "show", topic)
    assert shown["id"] == made["id"] and [s["id"] for s in shown["subscription_list"]] == [sub["id"]]
    assert sub["id"] in sqlite_cli("topics", "show", topic).output
    assert sqlite_cli("topics", "show", "no-such-topic", ok=False).exit_code == 1


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_functions_deploy_options_and_cron_on_a_function(sqlite_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code = tmp_path / "hello"
    code.mkdir()
    (code / "main.py").write_text("def handler(event, context):\n    return {'echo': event}\n")
    dlq = _json(sqlite_cli, "queues", "create", f"dlq-{uuid.uuid4().hex[:6]}")
    vpc = _json(sqlite_cli, "vpcs", "create", f"fn-vpc-{uuid.uuid4().hex[:6]}")
    name = f"fn-{uuid.uuid4().hex[:6]}"
    new = sqlite_cli("functions", "deploy", str(code), "--name", name, ok=False)
    assert new.exit_code == 2 and "--runtime" in new.output
    first = _json(sqlite_cli, "functions", "deploy", str(code), "--name", name, "--runtime", "python",
                  "--handler", "main.handler", "--vpc", vpc["id"], "--dead-letter-queue", dlq["name"])
    assert first["vpc_id"] == vpc["id"] and first["dead_letter_queue_id"] == dlq["id"]
    (code / "main.py").write_text("def handler(event, context):\n    return {'v': 2}\n")
    second = _json(sqlite_cli, "functions", "deploy", str(code), "--name", name)  # no --runtime: kept
    assert second["runtime"] == first["runtime"] and second["version"] == first["version"] + 1

    job = f"job-{uuid.uuid4().hex[:6]}"
    made = _json(sqlite_cli, "cron", "create", job, "--schedule", "@hourly", "--function", name, "--payload", "{}")
    assert made["target_type"] == "function" and made["target_id"] in (name, first["id"])
    changed = _json(sqlite_cli, "cron", "update", job, "--schedule", "@daily", "--payload", '{"n": 1}',
                    "--skip-missed")
    assert changed["schedule"] == "@daily" and changed["payload"] == '{"n": 1}' and changed["missed_runs"] == "skip"
    assert changed["target_type"] == "function"
    nothing = sqlite_cli("cron", "update", job, ok=False)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output
    two = sqlite_cli("cron", "update", job, "--url", "http://127.0.0.1:9/x", "--queue", dlq["name"], ok=False)
    assert two.exit_code == 2 and "one target" in two.output
    sqlite_cli("cron", "delete", job, "--yes")
    sqlite_cli("functions", "delete", name, "--yes")
    sqlite_cli("vpcs", "delete", vpc["id"], "--yes")

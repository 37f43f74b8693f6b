"""The CLI commands added so that every API feature has one (tests/cli/test_api_coverage.py finds the
gaps): quotas, verify, users, billing administration, storage presign and bucket, queue visibility,
subscriptions show, key pairs show, route keys and the gateway, apps builds and update, lb update,
disks info, function event sources and invocations, metrics series, and their errors."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from cumulo.cli import output
from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.cli.conftest import _runner
from tests.conftest import PASSWORD, new_email
from tests.services.identity.conftest import last_token


def _json(cli: Any, *args: str) -> Any:
    return json.loads(cli("--json", *args).output)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _new_user(tmp_path: Path, live: LiveServer) -> Any:
    cli = _runner(tmp_path, live)
    email = new_email()
    cli("register", "--email", email, "--name", "New", "--password", PASSWORD)
    cli("login", "--email", email, "--password", PASSWORD)
    return cli


@pytest.fixture
def admin_cli(tmp_path: Path, server_sqlite: LiveServer) -> Any:
    """A CLI logged in as an administrator of the SQLite server (made in its database, as `cumulo admin
    create-user --admin` does)."""
    from cumulo.services.identity import service as identity

    email = new_email()

    async def make() -> None:
        async with server_sqlite.platform.db.session() as session:  # type: ignore[union-attr]
            await identity.create_user(session, email=email, password=PASSWORD, name="Admin", role="admin",
                                       verified=True)
            await session.commit()

    server_sqlite.call(make())
    admin = Client(server_sqlite.url)
    admin.identity.login(email, PASSWORD)
    return _runner(tmp_path / "admin", server_sqlite, admin.api_key or "")


def test_verify_takes_the_token_or_the_whole_link(tmp_path: Path, server_sqlite: LiveServer) -> None:
    cli = _runner(tmp_path, server_sqlite)
    email = new_email()
    cli("register", "--email", email, "--name", "Verifier", "--password", PASSWORD)
    token = last_token(server_sqlite, email, "Verify")
    assert "email verified" in cli("verify", f"{server_sqlite.url}/auth/verify/{token}").output
    again = cli("verify", token, ok=False)
    assert again.exit_code == 1 and "error" in again.output.lower()


def test_quotas_show_limits_and_use(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    before = {q["kind"]: q for q in _json(sqlite_cli, "quotas")}
    assert before["queues"]["setting"] == "CUMULO_QUOTA_QUEUES" and before["queues"]["limit"] > 0
    sqlite_cli("queues", "create", _name("counted"))
    assert {q["kind"]: q for q in _json(sqlite_cli, "quotas")}["queues"]["used"] == before["queues"]["used"] + 1
    assert "CUMULO_QUOTA_QUEUES" in sqlite_cli("--wide", "quotas").output


def test_users_and_billing_administration(admin_cli, sqlite_cli, sqlite_user: Client,  # type: ignore[no-untyped-def]
                                          tmp_path: Path, server_sqlite: LiveServer) -> None:
    user_id = sqlite_user.identity.me()["id"]
    refused = sqlite_cli("users", "list", ok=False)
    assert refused.exit_code == 1 and "administrators" in refused.output
    assert user_id in {u["id"] for u in _json(admin_cli, "users", "list")}
    assert _json(admin_cli, "users", "set-role", user_id, "admin")["role"] == "admin"
    assert _json(admin_cli, "users", "set-role", user_id, "user")["role"] == "user"
    assert admin_cli("users", "set-role", user_id, "root", ok=False).exit_code == 1

    plan = _name("cli")  # a plan of this test's own: the shared server's plans and prices stay as they are
    created = _json(admin_cli, "billing", "set-plan", plan, "--name", "CLI plan", "--price", "0",
                    "--monthly-credits", "10", "--limit", "queues=50", "--feature", "gpu=false")
    assert created["id"] == plan and created["limits"]["queues"] == 50
    assert plan in {p["id"] for p in _json(sqlite_cli, "billing", "plans")}
    bad = admin_cli("billing", "set-plan", plan, "--limit", "queues", ok=False)
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.output
    price = _json(sqlite_cli, "billing", "prices")[0]  # set to what it is
    assert _json(admin_cli, "billing", "set-price", price["key"], str(price["amount"]))["amount"] == price["amount"]

    buyer = _new_user(tmp_path / "buyer", server_sqlite)  # a new user on the new plan
    buyer_id = _json(buyer, "whoami")["id"]
    buyer("billing", "subscribe", plan)
    assert _json(buyer, "billing", "subscription")["plan"] == plan
    granted = _json(admin_cli, "billing", "grant", buyer_id, "5", "--reason", "cli test")
    assert granted["amount"] == 5 and granted["kind"] == "grant"
    assert buyer("billing", "grant", buyer_id, "5", ok=False).exit_code == 1  # not an administrator
    code = f"CLI-{uuid.uuid4().hex[:8]}"
    made = _json(admin_cli, "billing", "voucher", "3", "--code", code)
    assert made["code"] == code and made["max_redemptions"] == 1
    assert _json(buyer, "billing", "redeem", code)["amount"] == 3


def test_storage_presign_and_bucket(tmp_path: Path, server_sqlite: LiveServer) -> None:
    cli = _new_user(tmp_path / "signer", server_sqlite)  # no S3 credential yet
    bucket = _name("signed")
    cli("storage", "mb", bucket)
    assert _json(cli, "storage", "bucket", bucket)["name"] == bucket
    assert cli("storage", "bucket", _name("nobody"), ok=False).exit_code == 1
    data = tmp_path / "report.txt"
    data.write_bytes(b"presigned hello\n")
    cli("storage", "put", str(data), f"{bucket}/dir/report.txt")
    none = cli("storage", "presign", f"{bucket}/dir/report.txt", ok=False)
    assert none.exit_code == 1 and "credential" in none.output
    cli("storage", "credentials", "create")
    url = cli("storage", "presign", f"{bucket}/dir/report.txt", "--expires", "600").stdout.strip()
    assert httpx.get(url).content == b"presigned hello\n"
    assert cli("storage", "presign", f"{bucket}/missing", ok=False).exit_code == 1
    assert cli("storage", "presign", f"{bucket}/dir/report.txt", "--expires", "0", ok=False).exit_code == 1


def test_queue_change_visibility(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    queue = _name("vis")
    sqlite_cli("queues", "create", queue)
    sqlite_cli("queues", "send", queue, "work")
    [got] = _json(sqlite_cli, "queues", "receive", queue)
    assert _json(sqlite_cli, "queues", "receive", queue) == []  # hidden for the visibility timeout
    assert "0 s" in sqlite_cli("queues", "change-visibility", queue, got["receipt_handle"], "0").output
    [again] = _json(sqlite_cli, "queues", "receive", queue)
    assert again["message_id"] == got["message_id"]
    assert sqlite_cli("queues", "change-visibility", queue, "rh_nope", "5", ok=False).exit_code == 1


def test_subscriptions_and_keypairs_show(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    topic, queue = _name("t"), _name("q")
    sqlite_cli("topics", "create", topic)
    sqlite_cli("queues", "create", queue)
    sub = _json(sqlite_cli, "subscriptions", "create", topic, "--protocol", "queue", "--endpoint", queue)
    assert _json(sqlite_cli, "subscriptions", "show", sub["id"])["id"] == sub["id"]
    assert sqlite_cli("subscriptions", "show", "sub-nope", ok=False).exit_code == 1
    pair = _name("kp")
    made = _json(sqlite_cli, "keypairs", "create", pair)
    shown = _json(sqlite_cli, "keypairs", "show", pair)
    assert shown["public_key"] == made["public_key"] and not shown.get("private_key")  # never shown again


def test_route_keys_and_the_gateway(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    route = _name("keyed")
    sqlite_cli("routes", "create", route, "--target", "http://127.0.0.1:9", "--require-api-key")
    key = _json(sqlite_cli, "routes", "key", route)
    assert [k["id"] for k in _json(sqlite_cli, "routes", "keys", route)] == [key["id"]]
    refused = sqlite_cli("routes", "delete-key", route, key["id"], ok=False)
    assert refused.exit_code == 1 and "--yes" in refused.output
    sqlite_cli("routes", "delete-key", route, key["id"], "--yes")
    assert _json(sqlite_cli, "routes", "keys", route) == []
    assert {"http_port", "https_port", "base_domain"} <= set(_json(sqlite_cli, "routes", "gateway"))


def test_apps_builds_update_and_lb_update(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    app = _name("upd")
    sqlite_cli("apps", "create", app)
    assert _json(sqlite_cli, "apps", "builds", app) == []
    assert _json(sqlite_cli, "apps", "update", app, "--replicas", "2", "--branch", "release")["replicas"] == 2
    assert _json(sqlite_cli, "apps", "status", app)["branch"] == "release"
    nothing = sqlite_cli("apps", "update", app, ok=False)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output
    assert sqlite_cli("apps", "update", app, "--replicas", "99", ok=False).exit_code == 1
    lb = _name("lbu")
    sqlite_cli("lb", "create", lb)
    updated = _json(sqlite_cli, "lb", "update", lb, "--algorithm", "least_conn", "--health-path", "/up")
    assert updated["algorithm"] == "least_conn" and updated["health_check"]["path"] == "/up"
    assert sqlite_cli("lb", "update", lb, ok=False).exit_code == 2


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_disks_info(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    disk = _name("inf")
    sqlite_cli("disks", "create", disk, "--size", "1")
    info = _json(sqlite_cli, "disks", "info", disk)
    assert info["format"] == "qcow2" and info["virtual_size"] == 1024 ** 3
    sqlite_cli("disks", "delete", disk, "--yes")


def test_missing_resources_and_bad_input_are_clear(sqlite_cli) -> None:  # type: ignore[no-untyped-def]
    for args in (["instances", "metrics", "nope"], ["cache", "metrics", "nope"], ["db", "metrics", "nope"],
                 ["db", "metrics", "nope", "--series"], ["deployments", "metrics", "nope"],
                 ["deployments", "events", "nope"], ["volumes", "show-snapshot", "nope"], ["images", "log", "nope"],
                 ["db", "delete-backup", "nope", "bk-nope", "--yes"], ["db", "import", "nope", "bucket/key.sql"],
                 ["autoscaling", "update", "nope", "--max", "2"], ["functions", "invocations", "nope"],
                 ["functions", "event-sources", "list", "nope"]):
        done = sqlite_cli(*args, ok=False)
        assert done.exit_code == 1 and "error 404" in done.output, (args, done.output)
    assert sqlite_cli("autoscaling", "update", "nope", ok=False).exit_code == 2
    assert sqlite_cli("db", "import", "nope", "no-key", ok=False).exit_code == 2


def test_a_metrics_series_is_a_table_of_points(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=out, width=120, color_system=None))
    monkeypatch.setitem(output.STATE, "json", False)
    point = {"time": "2026-12-02T16:00:00Z", "cpu_percent": 12.5, "memory_bytes": 20 * 1024 * 1024,
             "memory_limit_bytes": 512 * 1024 * 1024, "memory_percent": 3.9, "pids": 4, "members": 2}
    output.show_series({"resource_type": "deployment", "resource_id": "dep_1", "interval_seconds": 5.0,
                        "retention_seconds": 3600, "points": [point]})
    text = out.getvalue()
    assert "deployment dep_1: a point every 5 s" in text and "20 MiB" in text and "12.5" in text
    assert "members" in text


@pytest.mark.docker  # a function's runtime runs on dockerd
def test_function_event_sources_and_invocations(sqlite_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code = tmp_path / "fn"
    code.mkdir()
    (code / "main.py").write_text("def handler(event, context):\n    return {'got': event}\n")
    name, queue = _name("es"), _name("esq")
    sqlite_cli("functions", "deploy", str(code), "--name", name, "--runtime", "python", "--handler", "main.handler")
    sqlite_cli("queues", "create", queue)
    source = _json(sqlite_cli, "functions", "event-sources", "add", name, queue, "--batch-size", "5")
    assert source["batch_size"] == 5
    assert [s["id"] for s in _json(sqlite_cli, "functions", "event-sources", "list", name)] == [source["id"]]
    assert _json(sqlite_cli, "functions", "event-sources", "show", name, source["id"])["id"] == source["id"]
    sqlite_cli("functions", "event-sources", "delete", name, source["id"], "--yes")
    assert _json(sqlite_cli, "functions", "event-sources", "list", name) == []

    queued = _json(sqlite_cli, "functions", "invoke", name, '{"n": 1}', "--async")
    from cumulo.testing import eventually

    def done() -> Any:
        got = _json(sqlite_cli, "functions", "invocation", name, queued["id"])
        return got if got["status"] in ("SUCCESS", "FAILED") else None

    assert eventually(done, 120, what="the async invocation")["result"] == {"got": {"n": 1}}
    assert queued["id"] in {i["id"] for i in _json(sqlite_cli, "functions", "invocations", name)}

"""Managed databases: another user's database is 404 for every verb; bad parameters are 400 and
create nothing (no row, no container, no secret); the quota holds. None of these needs a server
to start, except the one database the other user probes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cumulo.client import ApiError, Client
from tests.conftest import register_and_login
from tests.services.databases.conftest import Stack

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("databases-access")]
CUMULO_CATALOG = "postgresql"  # Cumulo's own tables on PostgreSQL here (the other modules: SQLite)


def status_of(call: Any) -> int:
    try:
        call()
    except ApiError as exc:
        return exc.status
    return 200


BAD = [
    {"name": "Bad_Name"},
    {"name": "ok", "engine": "oracle"},
    {"name": "ok", "version": "9.6"},
    {"name": "ok", "engine": "mysql", "version": "5.7"},
    {"name": "ok", "backup_retention_days": 0},
    {"name": "ok", "backup_retention_days": 36},
    {"name": "ok", "storage_gb": 0},
    {"name": "ok", "memory_mb": 16},
    {"name": "ok", "cpus": 0},
    {"name": "ok", "username": "postgres"},
    {"name": "ok", "username": "root", "engine": "mysql"},
    {"name": "ok", "database": "template1"},
    {"name": "ok", "backup_window": "25:00-26:00"},
    {"name": "ok", "parameters": {"max_connections": 1}},
    {"name": "ok", "parameters": {"fsync": 0}},
    {"name": "ok", "parameters": {"shared_buffers_mb": 4096}, "memory_mb": 512},
    {"name": "ok", "engine": "mysql", "parameters": {"shared_buffers_mb": 64}},
    {"name": "ok", "storage_gb": 10 ** 6},
    {"name": "ok", "surprise": True},
    {"name": "ok", "vpc_id": "no-such-vpc"},  # 404, below
]


@pytest.mark.parametrize("body", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_parameters_are_400_and_create_nothing(stack: Stack, body: dict[str, Any]) -> None:
    c = stack.client
    secrets_before = len(c.secrets.list())
    with pytest.raises(ApiError) as err:
        c.post("/databases", body)
    assert err.value.status == (404 if "vpc_id" in body else 400), err.value
    assert c.databases.list() == []
    assert len(c.secrets.list()) == secrets_before
    assert stack.docker.containers.list(all=True, filters={"label": f"cumulo.installation={stack.installation}",
                                                           "name": "cumulo-db-"}) == []


@pytest.fixture(scope="module")
def owned(stack: Stack) -> dict[str, Any]:
    return stack.client.databases.create("mine", "postgres", memory_mb=256)


@pytest.fixture(scope="module")
def intruder(stack: Stack) -> Client:
    client = register_and_login(stack.live)
    yield client  # type: ignore[misc]
    client.close()


def test_another_users_database_is_404_for_every_verb(stack: Stack, owned: dict[str, Any], intruder: Client) -> None:
    d = intruder.databases
    backup = stack.client.databases.backup(owned["id"])
    calls = [lambda: d.get(owned["id"]), lambda: d.get(owned["name"]), lambda: d.stop(owned["id"]),
             lambda: d.start(owned["id"]), lambda: d.reboot(owned["id"]), lambda: d.update(owned["id"], cpus=2),
             lambda: d.rotate_password(owned["id"]), lambda: d.backup(owned["id"]), lambda: d.backups(owned["id"]),
             lambda: d.restore(owned["id"], backup["id"], "stolen"), lambda: d.logs(owned["id"]),
             lambda: d.metrics(owned["id"]), lambda: d.delete_backup(owned["id"], backup["id"]),
             lambda: d.delete(owned["id"], skip_final_backup=True)]
    assert [status_of(call) for call in calls] == [404] * len(calls)
    assert d.list() == []
    assert stack.client.databases.get(owned["id"])["status"] == "available"
    assert [b["id"] for b in stack.client.databases.backups(owned["id"]) if b["kind"] != "base"] == [backup["id"]]


def test_lifecycle_conflicts_and_storage_never_shrinks(stack: Stack, owned: dict[str, Any]) -> None:
    c = stack.client.databases
    assert status_of(lambda: c.create("mine", "postgres")) == 409  # the name is taken
    assert status_of(lambda: c.update(owned["id"], storage_gb=owned["storage_gb"] - 1 or 0)) == 400
    assert status_of(lambda: c.update(owned["id"], parameters={"max_connections": 999999})) == 400
    metrics = c.metrics(owned["id"])
    assert metrics["connections"] >= 0 and metrics["storage_used_bytes"] > 0 and "memory_bytes" in metrics
    assert "database system is ready" in c.logs(owned["id"])


def test_quota_limits_the_number_of_databases(stack: Stack, owned: dict[str, Any]) -> None:
    quotas = {q["kind"]: q for q in stack.client.get("/quotas")}
    assert quotas["databases"]["used"] == 1 and quotas["databases"]["limit"] == 5
    stack.live.platform.settings.quota_databases = 1
    try:
        with pytest.raises(ApiError) as err:
            stack.client.databases.create("second", "postgres")
        assert err.value.status == 403 and err.value.code == "QUOTA_EXCEEDED"
    finally:
        stack.live.platform.settings.quota_databases = 5
    assert [d["name"] for d in stack.client.databases.list()] == ["mine"]


def test_cli_lists_shows_and_backs_up_with_json(stack: Stack, owned: dict[str, Any], tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from cumulo.cli.databases import local_client
    from cumulo.cli.main import app

    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": stack.live.url, "CUMULO_API_KEY": stack.client.api_key or ""}
    runner = CliRunner()
    listed = runner.invoke(app, ["db", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [d["name"] for d in json.loads(listed.stdout)] == ["mine"]
    shown = runner.invoke(app, ["db", "show", "mine", "--json"], env=env)
    assert json.loads(shown.stdout)["id"] == owned["id"] and "password" not in shown.stdout
    made = runner.invoke(app, ["db", "backup", "mine", "--json"], env=env)
    assert made.exit_code == 0, made.output
    backup = json.loads(made.stdout)
    assert backup["status"] == "available"
    listed_backups = runner.invoke(app, ["db", "backups", "mine", "--json"], env=env)
    assert backup["id"] in [b["id"] for b in json.loads(listed_backups.stdout)]
    gone = runner.invoke(app, ["db", "show", "nope", "--json"], env=env)
    assert gone.exit_code != 0
    argv, client_env = local_client(stack.client.databases.get("mine"), "s3cret-value")  # connect: no password in argv
    assert argv[0] == "psql" and "s3cret-value" not in " ".join(argv) and client_env["PGPASSWORD"] == "s3cret-value"


def _set_last_backup(stack: Stack, db_id: str, when: Any) -> None:
    from cumulo.services.databases.models import ManagedDatabase

    async def go() -> None:
        async with stack.live.platform.db.session() as session:
            row = await session.get(ManagedDatabase, db_id)
            assert row is not None
            row.last_backup_at = when
            await session.commit()
    stack.live.call(go())


def test_backup_quota_refuses_with_403_and_a_failed_backup_with_its_reason(stack: Stack,
                                                                          owned: dict[str, Any]) -> None:
    import datetime as dt

    from cumulo.services.databases import backups as backups_service

    c = stack.client.databases
    settings = stack.live.platform.settings
    default = settings.quota_database_backup_bytes
    c.backup(owned["id"])
    held = [b for b in c.backups(owned["id"]) if b["status"] == "available"]
    used = sum(b["bytes"] for b in held)
    assert used > 0
    report = {q["kind"]: q for q in stack.client.get("/quotas")}["database_backup_bytes"]
    assert report["used"] == used and report["unit"] == "bytes" and report["limit"] == default
    try:
        settings.quota_database_backup_bytes = used  # full: refused before anything is made
        before = c.backups(owned["id"])
        with pytest.raises(ApiError) as err:
            c.backup(owned["id"])
        assert err.value.status == 403 and err.value.code == "QUOTA_EXCEEDED"
        assert "CUMULO_QUOTA_DATABASE_BACKUP_BYTES" in err.value.message
        assert c.backups(owned["id"]) == before
        with pytest.raises(ApiError) as err:  # the final backup of a delete too: the database stays
            c.delete(owned["id"])
        assert err.value.status == 403 and c.get(owned["id"])["status"] == "available"

        settings.quota_database_backup_bytes = used + 1  # room to start, not for the dump
        with pytest.raises(ApiError) as err:
            c.backup(owned["id"])
        assert err.value.status == 403 and err.value.code == "QUOTA_EXCEEDED"
        failed = [b for b in c.backups(owned["id"]) if b["id"] not in {x["id"] for x in before}]
        assert [(b["kind"], b["status"]) for b in failed] == [("manual", "error")]
        assert "database_backup_bytes quota exceeded" in failed[0]["error"]
        assert {q["kind"]: q for q in stack.client.get("/quotas")}["database_backup_bytes"]["used"] == used

        settings.quota_database_backup_bytes = used  # the daily backup: one failed backup saying why
        c.update(owned["id"], backup_window="00:00-23:59")
        _set_last_backup(stack, owned["id"], dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
        for _ in range(2):  # refused once, not on every pass of the loop
            stack.live.call(backups_service.automated(stack.live.platform))
        daily = [b for b in c.backups(owned["id"]) if b["kind"] == "automated"]
        assert [b["status"] for b in daily] == ["error"]
        assert "database_backup_bytes quota exceeded" in daily[0]["error"]
    finally:
        settings.quota_database_backup_bytes = default
        c.update(owned["id"], backup_window="03:00-04:00")
        _set_last_backup(stack, owned["id"], dt.datetime.now(dt.UTC))
    for b in failed + daily:  # a failed backup can be deleted like any other
        c.delete_backup(owned["id"], b["id"])
    assert [b for b in c.backups(owned["id"]) if b["status"] == "error"] == []


def _metered(stack: Stack, db_id: str) -> tuple[Any, Any]:
    """(the billing meter's view of the database's server, of its storage) through its hooks."""
    from cumulo.services.databases import hooks

    async def go() -> tuple[Any, Any]:
        async with stack.live.platform.db.session() as session:
            server = next(u for u in await hooks.usage(session) if u.resource_id == db_id)
            disk = next(u for u in await hooks.storage_usage(session) if u.resource_id == db_id)
            return server, disk
    return stack.live.call(go())


def test_the_meter_sees_the_exact_moment_of_a_stop_not_a_later_write(stack: Stack, owned: dict[str, Any]) -> None:
    import datetime as dt

    c = stack.client.databases
    before = dt.datetime.now(dt.UTC)
    c.stop(owned["id"])
    after = dt.datetime.now(dt.UTC)
    c.update(owned["id"], backup_retention_days=9)  # a later write to the row (updated_at moves)
    server, disk = _metered(stack, owned["id"])
    assert not server.active and before <= server.since <= after, (before, server.since, after)
    assert disk.since <= before  # the storage did not change
    before = dt.datetime.now(dt.UTC)
    c.start(owned["id"])
    after = dt.datetime.now(dt.UTC)
    c.update(owned["id"], backup_retention_days=7)
    server, _ = _metered(stack, owned["id"])
    assert server.active and before <= server.since <= after, (before, server.since, after)
    started = server.since
    c.update(owned["id"], storage_gb=owned["storage_gb"] + 1)  # a grow: the storage meter's moment moves
    server, disk = _metered(stack, owned["id"])
    assert server.since == started and disk.since > started and disk.spec == {"size_gb": owned["storage_gb"] + 1}

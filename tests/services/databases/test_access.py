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
             lambda: d.metrics(owned["id"]), lambda: d.metrics_series(owned["id"]),
             lambda: d.restore(owned["id"], name="stolen", restore_time=backup["created_at"]),
             lambda: d.import_dump(owned["id"], backup["bucket"], backup["key"]),
             lambda: d.delete_backup(owned["id"], backup["id"]),
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
    assert metrics["connections"] >= 0 and metrics["storage_used_bytes"] > 0
    assert metrics["memory_bytes"] > 0 and metrics["memory_limit_bytes"] == 256 * 1024 ** 2
    assert metrics["cpu_percent"] >= 0
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


def _run_loop_step(stack: Stack, step: Any) -> Any:
    return stack.live.call(step(stack.live.platform))


def _expire(stack: Stack, backup_ids: list[str]) -> None:
    """Age backups past their retention (as the days going by would)."""
    import datetime as dt

    from cumulo.services.databases.models import DatabaseBackup

    async def go() -> None:
        async with stack.live.platform.db.session() as session:
            for backup_id in backup_ids:
                row = await session.get(DatabaseBackup, backup_id)
                assert row is not None
                row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            await session.commit()
    stack.live.call(go())


def test_the_daily_backup_expires_after_the_retention_and_the_loop_prunes_it(stack: Stack,
                                                                              owned: dict[str, Any]) -> None:
    """The backups loop: an automated backup (and its base backup) in the window, expiring after
    ``backup_retention_days``; once expired, pruning removes its row and its object in the backup
    bucket, and the archived WAL no kept base backup needs; manual backups stay."""
    import datetime as dt

    from botocore.exceptions import ClientError

    from cumulo.services.databases import backups as backups_service
    from cumulo.services.databases import pitr
    from cumulo.testing import eventually
    from tests.services.storage.conftest import s3_client

    c = stack.client.databases
    s3 = s3_client(stack.live, stack.client.storage.create_credentials("prune"))
    switched = stack.container(owned["id"]).exec_run(
        ["psql", "-tA", "-U", owned["username"], "-d", owned["database"], "-c",
         "CREATE TABLE IF NOT EXISTS ticks (n int); INSERT INTO ticks VALUES (1); SELECT pg_switch_wal()"],
        user="postgres")
    assert switched.exit_code == 0, switched.output
    manual = [b for b in c.backups(owned["id"]) if b["kind"] == "manual" and b["status"] == "available"]
    assert manual
    bucket = manual[0]["bucket"]
    prefix = f"{owned['name']}-{owned['id'][:8]}/wal/"

    def shipped() -> list[str]:
        _run_loop_step(stack, pitr.ship_all)
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    old_wal = eventually(shipped, 60, interval=1, what="archived WAL in the backup bucket")

    c.update(owned["id"], backup_window="00:00-23:59", backup_retention_days=3)
    _set_last_backup(stack, owned["id"], dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    try:
        started = dt.datetime.now(dt.UTC)
        _run_loop_step(stack, backups_service.automated)
        _run_loop_step(stack, backups_service.automated)  # backed up today: not again
    finally:
        c.update(owned["id"], backup_window="03:00-04:00", backup_retention_days=7)
    listed = c.backups(owned["id"])
    daily = [b for b in listed if b["kind"] == "automated"]  # one (the server's own loop may have run too)
    assert daily and all(b["status"] == "available" for b in daily), daily
    for b in daily:
        expires = dt.datetime.fromisoformat(b["expires_at"])
        assert started + dt.timedelta(days=3) <= expires <= dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    assert c.get(owned["id"])["last_backup_at"] is not None
    assert all(b["expires_at"] is None for b in listed if b["kind"] == "manual")  # kept until deleted
    bases = sorted((b for b in listed if b["kind"] == "base" and b["status"] == "available"),
                   key=lambda b: b["created_at"])
    newest_base = bases[-1]
    assert dt.datetime.fromisoformat(newest_base["created_at"]) >= started  # the daily one's base backup
    assert s3.get_object(Bucket=bucket, Key=daily[0]["key"])["Body"].read()[:5] == b"PGDMP"

    assert _run_loop_step(stack, backups_service.prune) == 0  # nothing has expired yet
    expired = [b["id"] for b in daily] + [b["id"] for b in bases[:-1]]
    _expire(stack, expired)
    _run_loop_step(stack, backups_service.prune)
    left = {b["id"] for b in c.backups(owned["id"])}
    assert not left & set(expired)
    assert {b["id"] for b in manual} <= left and newest_base["id"] in left
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=bucket, Key=daily[0]["key"])
    assert err.value.response["Error"]["Code"] == "NoSuchKey"
    assert _run_loop_step(stack, pitr.prune_wal) >= len(old_wal)  # archived before the oldest kept base
    now_wal = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}
    assert not now_wal & set(old_wal)
    _set_last_backup(stack, owned["id"], dt.datetime.now(dt.UTC))


def test_a_vpc_is_not_deleted_or_retired_under_a_stopped_database(stack: Stack, owned: dict[str, Any]) -> None:
    """A stopped database has no container on the VPC's network, yet it starts again in that VPC:
    its VPC cannot be deleted (409 naming it), nor retired as an idle default VPC."""
    from cumulo.services.network import service as network

    c = stack.client
    assert c.databases.stop(owned["id"])["status"] == "stopped"
    try:
        with pytest.raises(ApiError) as err:
            c.network.delete_vpc(owned["vpc_id"])
        assert err.value.status == 409 and "database mine" in err.value.message, err.value
        user_id = c.get("/auth/me")["id"]
        assert stack.live.call(network.retire_default_vpc(stack.live.platform, user_id)) is False
        assert owned["vpc_id"] in [v["id"] for v in c.network.vpcs()]
    finally:
        started = c.databases.start(owned["id"])
    assert started["status"] == "available" and started["vpc_id"] == owned["vpc_id"]


def test_cli_create_from_a_dump_rotate_connect_and_delete_with_json(stack: Stack, owned: dict[str, Any],
                                                                    tmp_path: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """``cumulo db create --from-dump`` makes a NEW database holding the uploaded dump's rows (a bad
    dump or a missing key: an error, and nothing is made); ``rotate-password``, ``connect`` (the
    password only in the client's environment) and ``delete`` with ``--json``."""
    import uuid

    import psycopg
    from typer.testing import CliRunner

    from cumulo.cli import databases as db_cli
    from cumulo.cli.main import app

    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": stack.live.url, "CUMULO_API_KEY": stack.client.api_key or ""}
    runner = CliRunner()
    bucket = f"dumps-{uuid.uuid4().hex[:10]}"
    stack.client.storage.create_bucket(bucket)
    stack.client.storage.put(bucket, "seed.sql", b"CREATE TABLE seeded (x int); INSERT INTO seeded VALUES (7), (8);\n")
    stack.client.storage.put(bucket, "broken.sql", b"INSERT INTO no_such_table VALUES (1);\n")
    names = [d["name"] for d in stack.client.databases.list()]
    secrets_before = len(stack.client.secrets.list())
    other = register_and_login(stack.live)  # someone else's bucket is not found, like a missing one
    try:
        theirs = f"theirs-{uuid.uuid4().hex[:10]}"
        other.storage.create_bucket(theirs)
        other.storage.put(theirs, "seed.sql", b"CREATE TABLE stolen (x int);\n")
    finally:
        other.close()
    for b, k, code in ((bucket, "missing.sql", 404), (bucket, "broken.sql", 400), (theirs, "seed.sql", 404),
                       (f"no-such-bucket-{uuid.uuid4().hex[:6]}", "seed.sql", 404)):
        with pytest.raises(ApiError) as err:
            stack.client.databases.create("seeded", "postgres", memory_mb=256, import_from={"bucket": b, "key": k})
        assert err.value.status == code, (b, k, err.value)
        if k == "broken.sql":
            assert "no_such_table" in err.value.message and "removed again" in err.value.message
        assert [d["name"] for d in stack.client.databases.list()] == names  # nothing was left: no database,
        assert len(stack.client.secrets.list()) == secrets_before  # no secret,
        assert [x.id for x in stack.docker.containers.list(all=True, filters={  # no container
            "label": f"cumulo.installation={stack.installation}", "name": "cumulo-db-"})] == [
            stack.container(owned["id"]).id]

    made = runner.invoke(app, ["db", "create", "seeded", "--memory", "256", "--public", "--from-dump",
                               f"{bucket}/seed.sql", "--json"], env=env)
    assert made.exit_code == 0, made.output
    db = json.loads(made.stdout)
    stack.passwords.append(db["password"])
    assert db["status"] == "available" and db["name"] == "seeded"
    ep = db["public_endpoint"]

    def seeded(password: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(host=ep["host"], port=ep["port"], user=db["username"], password=password,
                             dbname=db["database"], connect_timeout=5) as conn:
            return conn.execute("SELECT x FROM seeded ORDER BY x").fetchall()
    assert seeded(db["password"]) == [(7,), (8,)]

    shown = runner.invoke(app, ["db", "show", "seeded", "--json"], env=env)
    assert shown.exit_code == 0 and db["password"] not in shown.stdout and "password" not in json.loads(shown.stdout)
    rotated = runner.invoke(app, ["db", "rotate-password", "seeded", "--json"], env=env)
    assert rotated.exit_code == 0, rotated.output
    new_password = json.loads(rotated.stdout)["password"]
    stack.passwords.append(new_password)
    assert new_password != db["password"] and seeded(new_password) == [(7,), (8,)]

    ran: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(db_cli.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(db_cli.subprocess, "call", lambda argv, env: ran.append((argv, env)) or 0)
    connected = runner.invoke(app, ["db", "connect", "seeded"], env=env)
    assert connected.exit_code == 0, connected.output
    [(argv, client_env)] = ran
    assert argv[0] == "psql" and str(ep["port"]) in argv and db["username"] in argv
    assert new_password not in " ".join(argv) and new_password not in connected.output
    assert client_env["PGPASSWORD"] == new_password

    gone = runner.invoke(app, ["db", "delete", "seeded", "--skip-final-backup", "--yes", "--json"], env=env)
    assert gone.exit_code == 0, gone.output
    assert json.loads(gone.stdout) == {"deleted": "seeded", "final_backup": False}
    assert runner.invoke(app, ["db", "show", "seeded", "--json"], env=env).exit_code != 0
    assert [d["name"] for d in stack.client.databases.list()] == names


def test_resize_and_parameters_restart_the_server_with_its_data(stack: Stack, owned: dict[str, Any]) -> None:
    """cpus and memory_mb become the container's limits, a parameter the server's setting; the
    server restarts from its disk (a row written before is still there)."""
    def sql(query: str) -> str:
        done = stack.container(owned["id"]).exec_run(
            ["psql", "-tA", "-U", owned["username"], "-d", owned["database"], "-c", query], user="postgres")
        assert done.exit_code == 0, done.output
        return str(done.output.decode().strip())

    assert owned["backup_retention_days"] == 7 and owned["backup_window"] == "03:00-04:00"  # RDS's defaults
    sql("CREATE TABLE IF NOT EXISTS kept (x int); INSERT INTO kept VALUES (5)")
    changed = stack.client.databases.update(owned["id"], cpus=0.5, memory_mb=320,
                                            parameters={"max_connections": 60, "log_min_duration_statement": 250})
    assert changed["status"] == "available" and changed["cpus"] == 0.5 and changed["memory_mb"] == 320
    assert changed["parameters"] == {"max_connections": 60, "log_min_duration_statement": 250}
    host = stack.container(owned["id"]).attrs["HostConfig"]
    assert host["NanoCpus"] == 500_000_000 and host["Memory"] == 320 * 1024 ** 2
    assert sql("SHOW max_connections") == "60" and sql("SHOW log_min_duration_statement") == "250ms"
    assert sql("SELECT x FROM kept") == "5"
    with pytest.raises(ApiError) as err:  # validated against the new size too
        stack.client.databases.update(owned["id"], memory_mb=128, parameters={"shared_buffers_mb": 120})
    assert err.value.status == 400
    assert stack.client.databases.get(owned["id"])["memory_mb"] == 320

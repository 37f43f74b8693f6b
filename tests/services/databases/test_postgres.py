"""A managed PostgreSQL database on a real container: created ready with its password once, rows
written with psycopg survive stop/start, a killed or removed container, and a Cumulo restart; a
backup restores into a new database with the same rows; the password never leaks."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from cumulo.client import ApiError
from cumulo.testing import eventually
from tests.conftest import register_and_login
from tests.services.databases.conftest import Stack
from tests.services.storage.conftest import s3_client

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("databases-postgres")]


def connect(db: dict[str, Any], password: str) -> psycopg.Connection:
    ep = db["public_endpoint"]
    return psycopg.connect(host=ep["host"], port=ep["port"], user=db["username"], password=password,
                           dbname=db["database"], connect_timeout=5, autocommit=True)


def rows(db: dict[str, Any], password: str) -> list[tuple[Any, ...]]:
    with connect(db, password) as conn:
        return conn.execute("SELECT id, note FROM notes ORDER BY id").fetchall()


def rows_soon(stack: Stack, ref: str, password: str) -> list[tuple[Any, ...]]:
    def ready() -> list[tuple[Any, ...]] | None:
        db = stack.client.databases.get(ref)
        if db["status"] != "available" or not db["public_endpoint"]:
            return None
        try:
            return rows(db, password)
        except psycopg.OperationalError:
            return None
    return eventually(ready, 180, what="database answering")  # type: ignore[no-any-return]


EXPECTED = [(1, "first"), (2, "second"), (3, "third")]


@pytest.fixture(scope="module")
def pg(stack: Stack) -> dict[str, Any]:
    db = stack.client.databases.create("orders", "postgres", public=True, storage_gb=1, memory_mb=256,
                                       parameters={"max_connections": 50})
    stack.passwords.append(db["password"])
    return db


def test_create_answers_ready_with_the_password_once(stack: Stack, pg: dict[str, Any]) -> None:
    assert pg["status"] == "available" and pg["engine_product"] == "PostgreSQL" and pg["version"] == "15"
    assert pg["endpoint"]["port"] == 5432 and pg["endpoint"]["host"]
    with connect(pg, pg["password"]) as conn:  # accepting connections as soon as the answer came
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO notes VALUES (1, 'first'), (2, 'second'), (3, 'third')")
        assert conn.execute("SHOW max_connections").fetchone() == ("50",)
    shown = stack.client.databases.get(pg["id"])
    assert "password" not in shown and shown["status"] == "available"
    assert pg["password"] not in json.dumps(stack.client.databases.list())
    assert stack.client.secrets.value(pg["credentials_secret"]) == pg["password"]
    with pytest.raises(psycopg.OperationalError):
        connect(pg, "wrong-password")


def test_stop_and_start_keep_the_rows(stack: Stack, pg: dict[str, Any]) -> None:
    assert stack.client.databases.stop(pg["id"])["status"] == "stopped"
    container = stack.container(pg["id"])
    assert container.status == "exited"
    with pytest.raises(psycopg.OperationalError):
        connect(pg, pg["password"])
    network = next(iter(container.attrs["NetworkSettings"]["Networks"]))
    stack.docker.networks.get(network).remove()  # e.g. an engine reset while it was stopped
    started = stack.client.databases.start(pg["id"])
    assert started["status"] == "available" and started["vpc_id"] == pg["vpc_id"]
    assert rows(pg, pg["password"]) == EXPECTED
    assert stack.docker.networks.get(network).name == network  # its VPC's network was made again


def test_killed_and_removed_containers_are_healed(stack: Stack, pg: dict[str, Any]) -> None:
    stack.container(pg["id"]).kill()
    assert rows_soon(stack, pg["id"], pg["password"]) == EXPECTED
    stack.container(pg["id"]).remove(force=True)  # even the container is gone: made again from its disk
    assert rows_soon(stack, pg["id"], pg["password"]) == EXPECTED


def test_storage_grows_online_and_never_shrinks(stack: Stack, pg: dict[str, Any]) -> None:
    def disk_kib() -> int:
        out = stack.container(pg["id"]).exec_run(["df", "-k", "/var/lib/postgresql/data"]).output.decode()
        return int(out.splitlines()[1].split()[1])

    before = disk_kib()
    grown = stack.client.databases.update(pg["id"], storage_gb=2)
    assert grown["storage_gb"] == 2 and grown["status"] == "available"
    if grown["storage_size_enforced"]:  # a loop-device disk: the file system itself is bigger now
        assert before < 1024 ** 2 < disk_kib() <= 2 * 1024 ** 2
    with pytest.raises(ApiError) as err:
        stack.client.databases.update(pg["id"], storage_gb=1)
    assert err.value.status == 400
    assert rows(pg, pg["password"]) == EXPECTED  # no restart was needed


def test_backup_then_restore_makes_a_new_database_with_the_same_rows(stack: Stack, pg: dict[str, Any]) -> None:
    backup = stack.client.databases.backup(pg["id"])
    assert backup["status"] == "available" and backup["bytes"] > 0 and backup["kind"] == "manual"
    assert [b["id"] for b in stack.client.databases.backups(pg["id"]) if b["kind"] != "base"] == [backup["id"]]
    assert_read_only_to_the_user(stack, backup)
    copy = stack.client.databases.restore(pg["id"], backup["id"], "orders-copy", public=True)
    stack.passwords.append(copy["password"])
    assert copy["id"] != pg["id"] and copy["restored_from"] == backup["id"]
    assert copy["password"] != pg["password"]
    assert rows(copy, copy["password"]) == EXPECTED
    with connect(copy, copy["password"]) as conn:  # a new database: writes there leave the source alone
        conn.execute("INSERT INTO notes VALUES (4, 'only in the copy')")
    assert rows(pg, pg["password"]) == EXPECTED
    stack.client.databases.delete(copy["id"], skip_final_backup=True)
    with pytest.raises(ApiError) as err:
        stack.client.databases.get(copy["id"])
    assert err.value.status == 404


def assert_read_only_to_the_user(stack: Stack, backup: dict[str, Any]) -> None:
    """The user lists and reads their backup bucket with boto3, but cannot put, overwrite or delete in
    it; another user cannot even read it."""
    s3 = s3_client(stack.live, stack.client.storage.create_credentials("backups"))
    bucket, key = backup["bucket"], backup["key"]
    assert key in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    dump = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert dump.startswith(b"PGDMP") and len(dump) == backup["bytes"]
    everything = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}/*"]}]})
    expire_all = {"Rules": [{"ID": "gone", "Status": "Enabled", "Filter": {"Prefix": ""},
                             "Expiration": {"Days": 1}}]}
    writes = {  # every way S3 offers to add, change or remove something in the bucket
        "put": lambda: s3.put_object(Bucket=bucket, Key="mine.txt", Body=b"x"),
        "overwrite": lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"overwritten"),
        "copy in": lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": key}),
        "multipart": lambda: s3.create_multipart_upload(Bucket=bucket, Key="big"),
        "delete": lambda: s3.delete_object(Bucket=bucket, Key=key),
        "delete bucket": lambda: s3.delete_bucket(Bucket=bucket),
        "policy": lambda: s3.put_bucket_policy(Bucket=bucket, Policy=everything),
        "policy off": lambda: s3.delete_bucket_policy(Bucket=bucket),
        "bucket acl": lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write"),
        "object acl": lambda: s3.put_object_acl(Bucket=bucket, Key=key, ACL="public-read"),
        "tagging": lambda: s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "a",
                                                                                          "Value": "b"}]}),
        "versioning": lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
        "lifecycle": lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=expire_all),
    }
    for what, attempt in writes.items():
        with pytest.raises(ClientError) as err:
            attempt()
        assert err.value.response["Error"]["Code"] == "AccessDenied", what
    for rest in (lambda: stack.client.storage.put(bucket, "mine.txt", b"x"),  # the REST API: not their bucket
                 lambda: stack.client.storage.delete(bucket, key), lambda: stack.client.storage.delete_bucket(bucket)):
        with pytest.raises(ApiError) as api_err:
            rest()
        assert api_err.value.status == 404
    refused = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]})  # per-key answers, as S3
    assert [(e["Key"], e["Code"]) for e in refused.get("Errors", [])] == [(key, "AccessDenied")]
    assert not refused.get("Deleted")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == dump  # still there, unchanged
    assert bucket not in [b["name"] for b in stack.client.storage.buckets()]  # Cumulo's, not the user's
    other = register_and_login(stack.live)
    try:
        stranger = s3_client(stack.live, other.storage.create_credentials("x"))
        for attempt in (lambda: stranger.get_object(Bucket=bucket, Key=key),
                        lambda: stranger.list_objects_v2(Bucket=bucket)):
            with pytest.raises(ClientError) as err:
                attempt()
            assert err.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        other.close()


def test_import_a_dump_the_user_uploaded(stack: Stack, pg: dict[str, Any]) -> None:
    bucket = f"imports-{uuid.uuid4().hex[:10]}"
    stack.client.storage.create_bucket(bucket)
    stack.client.storage.put(bucket, "seed.sql", b"CREATE TABLE imported (x int); INSERT INTO imported VALUES (42);\n")
    assert stack.client.databases.import_dump(pg["id"], bucket, "seed.sql")["status"] == "available"
    with connect(pg, pg["password"]) as conn:
        assert conn.execute("SELECT x FROM imported").fetchall() == [(42,)]
    with pytest.raises(ApiError) as err:
        stack.client.databases.import_dump(pg["id"], bucket, "missing.sql")
    assert err.value.status == 404
    assert rows(pg, pg["password"]) == EXPECTED

    # a pg_dump -Fc the user made (here: their backup, read through S3) restored into a NEW database
    backup = next(b for b in stack.client.databases.backups(pg["id"]) if b["kind"] == "manual")
    s3 = s3_client(stack.live, stack.client.storage.create_credentials("dumps"))
    dump = s3.get_object(Bucket=backup["bucket"], Key=backup["key"])["Body"].read()
    stack.client.storage.put(bucket, "orders.pgdump", dump)
    fresh = stack.client.databases.create("orders-from-dump", "postgres", memory_mb=256, public=True,
                                          import_from={"bucket": bucket, "key": "orders.pgdump"})
    stack.passwords.append(fresh["password"])
    try:
        assert fresh["status"] == "available" and fresh["id"] != pg["id"]
        assert rows(fresh, fresh["password"]) == EXPECTED
        assert any(e["action"] == "database.imported" and e["resource_id"] == fresh["id"]
                   for e in stack.client.events(limit=200))
    finally:
        stack.client.databases.delete(fresh["id"], skip_final_backup=True)


def test_rotated_password_replaces_the_old_one(stack: Stack, pg: dict[str, Any]) -> None:
    rotated = stack.client.databases.rotate_password(pg["id"])
    stack.passwords.append(rotated["password"])
    assert rows(pg, rotated["password"]) == EXPECTED
    with pytest.raises(psycopg.OperationalError):
        connect(pg, pg["password"])
    assert stack.client.secrets.value(pg["credentials_secret"]) == rotated["password"]
    pg["password"] = rotated["password"]


def test_rows_survive_a_cumulo_restart_and_a_host_reboot_while_it_was_down(stack: Stack, pg: dict[str, Any]) -> None:
    stack.live.stop()
    stack.container(pg["id"]).remove(force=True)  # what a host reboot leaves: no container, no mount
    mnt = Path(stack.data_dir) / "volumes" / "mnt" / pg["id"]
    if pg["storage_size_enforced"]:
        image = Path(stack.data_dir) / "volumes" / "images" / f"{pg['id']}.img"
        subprocess.run(["umount", str(mnt)], check=True)
        loops = subprocess.run(["losetup", "-j", str(image), "-O", "NAME", "-n"], capture_output=True, text=True,
                               check=True).stdout.split()
        for device in loops:
            subprocess.run(["losetup", "-d", device], check=True)
        assert not os.path.ismount(mnt)
    stack.restart()
    assert rows_soon(stack, pg["id"], pg["password"]) == EXPECTED
    if pg["storage_size_enforced"]:
        assert os.path.ismount(mnt)  # the disk was attached and mounted again


def test_the_password_is_in_no_answer_event_log_or_container_config(stack: Stack, pg: dict[str, Any]) -> None:
    assert stack.passwords
    answers = json.dumps([stack.client.databases.list(), stack.client.databases.get(pg["id"]),
                          stack.client.databases.backups(pg["id"]), stack.client.events(limit=500)])
    attrs = json.dumps(stack.container(pg["id"]).attrs)
    logs = "\n".join(stack.log.lines)
    for password in stack.passwords:
        assert password not in answers
        assert password not in attrs
        assert password not in logs

"""A managed MariaDB database (engine ``mysql``) on a real container: rows written with PyMySQL
survive stop/start and a killed container; a backup restores into a new database with the same
rows; the rotated password replaces the old one; the password is in no answer, event or the
container's configuration."""

from __future__ import annotations

import json
from typing import Any

import pymysql
import pytest

from cumulo.testing import eventually
from tests.services.databases.conftest import Stack
from tests.services.storage.conftest import s3_client

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("databases-mariadb")]
EXPECTED = ((1, "first"), (2, "second"))


def connect(db: dict[str, Any], password: str) -> pymysql.connections.Connection:
    ep = db["public_endpoint"]
    return pymysql.connect(host=ep["host"], port=ep["port"], user=db["username"], password=password,
                           database=db["database"], connect_timeout=5, autocommit=True)


def rows(db: dict[str, Any], password: str) -> tuple[tuple[Any, ...], ...]:
    with connect(db, password) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, note FROM notes ORDER BY id")
        return tuple(cur.fetchall())


@pytest.fixture(scope="module")
def maria(stack: Stack) -> dict[str, Any]:
    db = stack.client.databases.create("shop", "mysql", public=True, memory_mb=384,
                                       parameters={"max_connections": 40})
    stack.passwords.append(db["password"])
    return db


def test_create_answers_ready_and_rows_survive_stop_start_and_a_kill(stack: Stack, maria: dict[str, Any]) -> None:
    assert maria["status"] == "available" and maria["engine_product"] == "MariaDB" and maria["version"] == "10.11"
    with connect(maria, maria["password"]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (id INT PRIMARY KEY, note VARCHAR(40)) ENGINE=InnoDB")
        cur.execute("INSERT INTO notes VALUES (1, 'first'), (2, 'second')")
        cur.execute("SELECT @@max_connections")
        assert cur.fetchone() == (40,)
    with pytest.raises(pymysql.err.OperationalError):
        connect(maria, "not-the-password")
    stack.client.databases.stop(maria["id"])
    assert stack.client.databases.start(maria["id"])["status"] == "available"
    assert rows(maria, maria["password"]) == EXPECTED
    stack.container(maria["id"]).kill()

    def answered() -> tuple[tuple[Any, ...], ...] | None:
        try:
            return rows(maria, maria["password"])
        except pymysql.err.OperationalError:
            return None
    assert eventually(answered, 180, what="healed MariaDB") == EXPECTED


def test_backup_restores_into_a_new_database_with_the_same_rows(stack: Stack, maria: dict[str, Any]) -> None:
    backup = stack.client.databases.backup(maria["id"])
    assert backup["status"] == "available" and backup["key"].endswith(".sql")
    s3 = s3_client(stack.live, stack.client.storage.create_credentials("backups"))  # read-only to the user
    assert b"INSERT INTO `notes`" in s3.get_object(Bucket=backup["bucket"], Key=backup["key"])["Body"].read()
    copy = stack.client.databases.restore(maria["id"], backup["id"], "shop-copy", public=True)
    stack.passwords.append(copy["password"])
    assert copy["engine"] == "mysql" and copy["restored_from"] == backup["id"]
    assert rows(copy, copy["password"]) == EXPECTED
    stack.client.databases.delete(copy["id"], skip_final_backup=True)


def test_rotation_and_the_password_never_shows(stack: Stack, maria: dict[str, Any]) -> None:
    rotated = stack.client.databases.rotate_password(maria["id"])
    stack.passwords.append(rotated["password"])
    assert rows(maria, rotated["password"]) == EXPECTED
    with pytest.raises(pymysql.err.OperationalError):
        connect(maria, maria["password"])
    stack.client.databases.reboot(maria["id"])  # the rotated password stays after a restart
    assert rows(maria, rotated["password"]) == EXPECTED
    answers = json.dumps([stack.client.databases.list(), stack.client.events(limit=500)])
    attrs = json.dumps(stack.container(maria["id"]).attrs)
    for password in stack.passwords:
        assert password not in answers and password not in attrs
        assert password not in "\n".join(stack.log.lines)


def test_delete_takes_a_final_backup_that_outlives_the_database(stack: Stack, maria: dict[str, Any]) -> None:
    stack.client.databases.delete(maria["id"])
    final = [b for b in stack.client.databases.backups(maria["id"]) if b["kind"] == "final"]
    assert len(final) == 1 and final[0]["status"] == "available"
    assert stack.docker.containers.list(all=True, filters={"name": f"cumulo-db-{maria['id']}"}) == []
    copy = stack.client.databases.restore(maria["id"], final[0]["id"], "shop-again", public=True)
    stack.passwords.append(copy["password"])
    assert rows(copy, copy["password"]) == EXPECTED

"""The read lane (``Database.read``): prepared queries and plain statements, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, select

from cumulo.db.query import Query
from cumulo.services.identity.models import ApiKey, User
from cumulo.testing.server import LiveServer
from tests.conftest import new_email, register_and_login

USER_BY_EMAIL = Query(select(User.id, User.email, User.created_at).where(User.email == bindparam("email")))
USERS_SINCE = Query(select(User.email).where(User.created_at >= bindparam("since")).order_by(User.created_at))
KEY_COUNT = Query(select(ApiKey.id).where(ApiKey.user_id == bindparam("user_id")))


def test_prepared_query_returns_typed_rows(server: LiveServer) -> None:
    email = new_email()
    client = register_and_login(server, email)
    rows = server.call(server.platform.db.read(USER_BY_EMAIL, email=email))
    assert len(rows) == 1
    user_id, got_email, created = rows[0]
    assert got_email == email and user_id == client.identity.me()["id"]
    assert isinstance(created, dt.datetime)
    assert server.call(server.platform.db.read(USER_BY_EMAIL, email="nobody@example.com")) == []


def test_datetime_parameters_are_converted(server: LiveServer) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    email = new_email()
    register_and_login(server, email)
    emails = [r[0] for r in server.call(server.platform.db.read(USERS_SINCE, since=before))]
    assert email in emails
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert server.call(server.platform.db.read(USERS_SINCE, since=later)) == []


def test_reads_see_writes_committed_a_moment_before(server: LiveServer) -> None:
    client = register_and_login(server)
    user_id = client.identity.me()["id"]
    count = len(server.call(server.platform.db.read(KEY_COUNT, user_id=user_id)))
    client.identity.create_key("one more")
    assert len(server.call(server.platform.db.read(KEY_COUNT, user_id=user_id))) == count + 1


def test_plain_statements_work_too(server: LiveServer) -> None:
    email = new_email()
    register_and_login(server, email)
    rows = server.call(server.platform.db.read(select(User.email).where(User.email == email)))
    assert [r[0] for r in rows] == [email]


def test_a_missing_parameter_is_a_clear_error(server: LiveServer) -> None:
    with pytest.raises(TypeError, match="email"):
        server.call(server.platform.db.read(USER_BY_EMAIL))


def test_expanding_parameters_are_refused(server: LiveServer) -> None:
    query = Query(select(User.id).where(User.email.in_(bindparam("emails", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        server.call(server.platform.db.read(query, emails=["a@example.com"]))

"""Shared fixtures.

- ``server``: a live Cumulo server, once per database backend (SQLite and PostgreSQL):
  every test using it (or ``client``/``user``) runs against both.
- ``server_sqlite``: a live server on SQLite only, for tests where the backend does not matter
  (e.g. Docker-heavy ones).
- ``make_server``: start a server with custom settings (stopped at the end of the test).
- ``user`` / ``other_user``: a fresh registered user with a logged-in ``cumulo.client.Client``.
- ``new_pg_database``: the URL of a new, empty PostgreSQL database of this test's own (dropped
  after it), e.g. for two servers or processes sharing one database.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import psycopg
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer, test_settings

PG_ADMIN_URL = os.environ.get("CUMULO_TEST_PG_URL", "postgresql://cumulo:cumulo@127.0.0.1:5432/postgres")
PASSWORD = "Sup3r-secret!"


def _create_pg_database() -> tuple[str, Callable[[], None]]:
    name = f"cumulo_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        if os.environ.get("CUMULO_TEST_SKIP_PG") == "1":
            pytest.skip("PostgreSQL not available and CUMULO_TEST_SKIP_PG=1")
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); run ./scripts/ensure-postgres.sh "
                    "or set CUMULO_TEST_SKIP_PG=1", pytrace=False)
    base = PG_ADMIN_URL.rsplit("/", 1)[0]

    def drop() -> None:
        """Best effort: FORCE cannot end an autovacuum worker (it runs as the superuser), so wait for
        it a little; a database left behind is not a test failure."""
        for _ in range(20):
            try:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                time.sleep(0.5)

    return f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}", drop


@pytest.fixture
def new_pg_database() -> Iterator[str]:
    url, drop = _create_pg_database()
    yield url
    drop()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    url, drop = _create_pg_database()
    yield url
    drop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp(f"cumulo-{request.param}")
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    live = LiveServer(test_settings(str(data_dir), url)).start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def server_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(test_settings(str(tmp_path_factory.mktemp("cumulo-sqlite-only")))).start()
    yield live
    live.stop()


@pytest.fixture
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []
    fresh: list[LiveServer] = []  # those on a data folder of their own (not another fixture's server's)

    def make(**overrides: Any) -> LiveServer:
        data_dir = overrides.pop("data_dir", None)
        live = LiveServer(test_settings(data_dir or str(tmp_path_factory.mktemp("cumulo-custom")), **overrides)).start()
        started.append(live)
        if data_dir is None and "installation_id" not in overrides:
            fresh.append(live)
        return live

    yield make
    installations = {live.platform.installation_id for live in fresh if live.platform is not None}
    for live in started:
        live.stop()
    remove_leftovers(installations)


def remove_leftovers(installations: set[str]) -> None:
    """Containers a test's servers left behind once stopped (e.g. a deployment whose deletion their
    reconciler had not finished, its replicas still burning CPU for the rest of the run)."""
    if not installations:
        return
    with contextlib.suppress(Exception):  # no Docker here: nothing was left
        engine = docker.from_env(timeout=15)
        try:
            for installation in installations:
                for c in engine.containers.list(all=True, filters={"label": f"cumulo.installation={installation}"}):
                    with contextlib.suppress(Exception):
                        c.remove(force=True)
        finally:
            engine.close()


def new_email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@example.com"


def register_and_login(live: LiveServer, email: str | None = None, name: str = "Test User") -> Client:
    client = Client(live.url)
    email = email or new_email()
    client.identity.register(email, PASSWORD, name)
    client.identity.login(email, PASSWORD)
    return client


@pytest.fixture
def user(server: LiveServer) -> Iterator[Client]:
    with register_and_login(server) as client:
        yield client


@pytest.fixture
def other_user(server: LiveServer) -> Iterator[Client]:
    with register_and_login(server) as client:
        yield client


@pytest.fixture
def sqlite_user(server_sqlite: LiveServer) -> Iterator[Client]:
    with register_and_login(server_sqlite) as client:
        yield client


def concurrent_statuses(calls: list[Callable[[], Any]]) -> list[int]:
    """Run the calls at once (one thread each); the sorted outcomes: 201 for a success, else the
    status of the ``ApiError``. For races such as concurrent creates against a quota."""
    from concurrent.futures import ThreadPoolExecutor

    from cumulo.client import ApiError

    def outcome(call: Callable[[], Any]) -> int:
        try:
            call()
            return 201
        except ApiError as exc:
            return exc.status

    with ThreadPoolExecutor(len(calls)) as pool:
        return sorted(pool.map(outcome, calls))



# Modules whose tests share one server (module-scoped fixtures) and build on one another's state (a
# database's rows, an app's releases, one booted VM): a rerun would run a test again on state its first
# attempt already changed, and rebuilding a failed module fixture starts the later tests from nothing.
# `make test` reruns a failed test once elsewhere; here a failure is reported as it is.
NOT_RERUN = ("tests/services/databases/", "tests/services/caches/", "tests/services/apps/",
             "tests/services/vms/", "tests/services/disks/", "tests/services/deployments/",
             "tests/services/autoscaling/", "tests/services/billing/")


def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker under ``--dist loadgroup``: every test marked ``xdist_group`` must carry its
    group in its node id, or xdist spreads the group over both workers and the tests that build on one
    module server's state lose it (pytest 9.2 ignored xdist 3.8's id suffix: the cause of a whole
    quarantine). Fail the run at once rather than split the groups silently."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [i.nodeid for i in session.items if i.get_closest_marker("xdist_group") and "@" not in i.nodeid]
    if lost:
        sys.stderr.write(f"\n--dist loadgroup is not grouping {len(lost)} marked tests\n")
        raise pytest.UsageError(f"--dist loadgroup is not grouping {len(lost)} marked tests (e.g. {lost[0]}): "
                                "pytest and pytest-xdist disagree on node ids; see pyproject.toml's pin")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(NOT_RERUN):
            item.add_marker(pytest.mark.flaky(reruns=0))

"""The healing, bounds, quota and ownership tests of ``test_groups`` again, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import _create_pg_database, register_and_login
from tests.services.autoscaling.test_groups import (  # noqa: F401 - collected here with the fixtures below
    test_bad_groups_are_400_with_nothing_created_and_another_users_group_is_404,
    test_manual_desired_bounds_quota_failures_and_healing,
)

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("autoscaling-pg")]


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url, drop = _create_pg_database()
    live = LiveServer(settings_for(str(tmp_path_factory.mktemp("cumulo-asg-pg")), url, autoscaling_eval_seconds=1.0,
                                   metrics_interval_seconds=1.0, compute_max_instances=4)).start()
    yield live
    live.stop()
    drop()


@pytest.fixture(scope="module")
def owner(pg_server: LiveServer) -> Iterator[Client]:
    with register_and_login(pg_server) as client:
        yield client


@pytest.fixture(scope="module")
def stranger(pg_server: LiveServer) -> Iterator[Client]:
    with register_and_login(pg_server) as client:
        yield client

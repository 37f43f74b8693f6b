"""The healing, validation and ownership tests of ``test_replicas`` and the per-replica volume
slots of ``test_volumes`` again, on PostgreSQL (the reconcile runtime's leases and signals go
through the database there)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import _create_pg_database, register_and_login
from tests.services.deployments.test_replicas import (  # noqa: F401 - collected here with the fixtures below
    test_bad_specs_are_400_and_create_nothing,
)
from tests.services.deployments.test_volumes import (  # noqa: F401 - collected here with the fixtures below
    test_a_slot_gets_its_volume_back_after_a_heal_and_a_scale_down_and_delete_can_keep_them,
)

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments-pg")]


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url, drop = _create_pg_database()
    live = LiveServer(settings_for(str(tmp_path_factory.mktemp("cumulo-dep-pg")), url,
                                    deployments_tick_seconds=0.5)).start()
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


def test_a_killed_replica_is_replaced_on_postgresql(owner: Client) -> None:
    import docker

    from cumulo.testing import eventually
    from tests.services.deployments.conftest import containers, remove, settled, spec

    dep = owner.deployments.create("pgheal", replicas=2, **spec())
    try:
        d = settled(owner, dep["id"])
        victim = d["members"][0]["instance_id"]
        docker.from_env().containers.list(filters={"label": f"cumulo.resource={victim}"})[0].kill()
        eventually(lambda: (x := owner.deployments.get(dep["id"]))["ready_replicas"] == 2
                   and victim not in {m["instance_id"] for m in x["members"]}, 60, interval=0.2, what="replaced")
        assert len(containers(dep["id"])) == 2
    finally:
        remove(owner, dep["id"])

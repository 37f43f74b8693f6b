from collections.abc import Iterator

import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.network.dockerkit import busybox, containers, release_loop_devices  # noqa: F401 - fixtures


@pytest.fixture
def other_user_sqlite(server_sqlite: LiveServer) -> Iterator[Client]:
    with register_and_login(server_sqlite) as client:
        yield client

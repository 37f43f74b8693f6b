"""Fixtures of managed database tests: one live server per module (its own data directory and
installation, so a test can restart Cumulo on the same state), a logged-in user, Docker."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer, test_settings
from tests.conftest import _create_pg_database, register_and_login


class Capture(logging.Handler):
    """Every log record of the server (all levels), to check that no password is ever logged."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a record that cannot format is still no leak
            self.lines.append(str(record.msg))


@dataclass
class Stack:
    data_dir: str
    installation: str
    live: LiveServer
    client: Client
    log: Capture
    docker: docker.DockerClient
    passwords: list[str] = field(default_factory=list)

    database_url: str | None = None

    def restart(self) -> None:
        """Stop Cumulo and start it again on the same database, data directory and installation."""
        self.live.stop()
        self.live = LiveServer(test_settings(self.data_dir, self.database_url, installation_id=self.installation)).start()
        self.client.base_url = self.live.url
        self.client._http.base_url = self.live.url

    def container(self, resource_id: str):  # type: ignore[no-untyped-def]
        found = self.docker.containers.list(all=True, filters={"label": [f"cumulo.resource={resource_id}",
                                                                         f"cumulo.installation={self.installation}"]})
        assert len(found) == 1, found
        return found[0]


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Cumulo on SQLite, or on a PostgreSQL database of its own when the module sets
    ``CUMULO_CATALOG = "postgresql"`` (so the services' queries run on both backends)."""
    url, drop = _create_pg_database() if getattr(request.module, "CUMULO_CATALOG", "sqlite") == "postgresql" \
        else (None, None)
    capture = Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.INFO)  # DEBUG (every SQL statement) slows the server down
    data_dir = str(Path(tmp_path_factory.mktemp("cumulo-db")) / "data")
    installation = f"t{uuid.uuid4().hex[:10]}"
    live = LiveServer(test_settings(data_dir, url, installation_id=installation)).start()
    client = register_and_login(live)
    engine = docker.from_env()
    s = Stack(data_dir, installation, live, client, capture, engine, database_url=url)
    yield s
    for kind in ("databases", "caches"):  # through Cumulo: their disks (loop devices, mounts) go too
        api = getattr(client, kind)
        try:
            for item in api.list():
                api.delete(item["id"], **({"skip_final_backup": True} if kind == "databases" else {}))
        except Exception as exc:  # noqa: BLE001 - best effort; the containers are removed below anyway
            logging.getLogger(__name__).warning("cleanup of %s: %s", kind, exc)
    root.removeHandler(capture)
    root.setLevel(previous)
    client.close()
    s.live.stop()
    for c in engine.containers.list(all=True, filters={"label": f"cumulo.installation={installation}"}):
        c.remove(force=True)
    engine.close()
    if drop is not None:
        drop()

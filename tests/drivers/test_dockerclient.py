"""The one Docker engine module: every driver's client honours CUMULO_DOCKER_HOST (reached here
through a second path to dockerd's socket), and Docker's errors become the same CumuloErrors in
every driver (built by hand)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import docker.errors
import pytest
import requests

from cumulo.core.config import Settings
from cumulo.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from cumulo.drivers import dockerclient
from cumulo.drivers.composition import Drivers

DOCKER_SOCKET = Path("/var/run/docker.sock")


def _api_error(status: int, text: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(text, response=response, explanation=text)


@pytest.mark.docker
def test_every_docker_driver_uses_the_configured_engine(tmp_path: Path) -> None:
    engine = tmp_path / "engine.sock"
    engine.symlink_to(DOCKER_SOCKET)
    drivers = Drivers(Settings(data_dir=tmp_path, docker_host=f"unix://{engine}"), lambda: "inst-test")
    try:
        for name in ("compute", "volumes", "functions"):
            adapter = getattr(drivers, name).client.api._custom_adapter
            assert adapter.socket_path == str(engine), name
        assert sorted(drivers.built()) == ["compute", "functions", "volumes"]
    finally:
        asyncio.run(drivers.close())
    assert drivers.built() == []


@pytest.mark.parametrize(("exc", "kind", "words"), [
    (docker.errors.ImageNotFound("no such image: x"), InvalidInput, "unknown image"),
    (docker.errors.NotFound("no such container: c1"), NotFound, "no such container"),
    (_api_error(409, "the name is already in use"), Conflict, "already in use"),
    (_api_error(403, "error while removing network: network v has active endpoints"), Conflict,
     "containers are still attached"),
    (_api_error(400, "invalid reference format"), InvalidInput, "invalid reference"),
    (_api_error(500, "boom"), Unavailable, "Docker engine error: boom"),
    (requests.exceptions.ConnectionError("refused"), Unavailable, "not reachable"),
])
def test_one_translation_of_docker_errors(exc: Exception, kind: type, words: str) -> None:
    err = dockerclient.translate(exc, "doing it")
    assert type(err) is kind and err.message.startswith("doing it: ") and words in err.message


def test_a_driver_reads_its_own_messages_first() -> None:
    def refine(exc: Exception, what: str, text: str) -> Conflict | None:
        return Conflict(f"{what}: port taken") if "port is already allocated" in text else None

    err = dockerclient.translate(_api_error(500, "Bind for 0.0.0.0:80 failed: port is already allocated"),
                                 "starting", refine)
    assert isinstance(err, Conflict) and err.message == "starting: port taken"
    assert isinstance(dockerclient.translate(_api_error(500, "other"), "starting", refine), Unavailable)

"""``DockerEngine``: what every part of the Docker compute driver shares: one SDK client (made on
first use, at ``base_url`` = ``CUMULO_DOCKER_HOST``) and ``_run``, which runs an SDK call in a worker
thread and turns Docker's errors into ``CumuloError``s (``cumulo.drivers.dockerclient.translate``,
after compute's own reading, ``_refine``: a taken host port is ``PortInUse``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import docker
import docker.errors

from cumulo.core.errors import CumuloError
from cumulo.drivers import dockerclient
from cumulo.drivers.compute.base import PortInUse

T = TypeVar("T")
_PORT_TAKEN = ("port is already allocated", "address already in use")


def _refine(exc: Exception, what: str, text: str) -> CumuloError | None:
    """Compute's own reading of an engine error, before ``dockerclient.translate``: a taken host port."""
    if isinstance(exc, docker.errors.APIError) and any(p in text for p in _PORT_TAKEN):
        return PortInUse(f"a host port is already in use: {text}")
    return None


class DockerEngine:
    def __init__(self, base_url: str | None = None, timeout: int = 120) -> None:
        self._base_url, self._timeout = base_url, timeout
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = dockerclient.client(self._base_url, self._timeout)
        return self._client

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await dockerclient.run("", lambda: fn(*args, **kwargs), _refine)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

"""A Docker Engine client connected on first use; an unreachable engine is ``Unavailable`` (503)."""

from __future__ import annotations

import os
from collections.abc import Callable

import docker
from docker.errors import DockerException

from cumulo.core.errors import Unavailable


def from_settings() -> docker.DockerClient:
    """``CUMULO_DOCKER_HOST`` when set (as the compute driver does), else ``DOCKER_HOST``/the local socket."""
    host = os.environ.get("CUMULO_DOCKER_HOST")
    return docker.DockerClient(base_url=host, timeout=60) if host else docker.from_env(timeout=60)


class LazyDocker:
    def __init__(self, client_factory: Callable[[], docker.DockerClient] = from_settings):
        self._factory = client_factory
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = self._factory()
            except DockerException as exc:
                raise Unavailable(f"Docker Engine is not reachable: {exc}") from exc
        return self._client

"""A Docker Engine client connected on first use; an unreachable engine is ``Unavailable`` (503)."""

from __future__ import annotations

from collections.abc import Callable

import docker
from docker.errors import DockerException

from cumulo.core.errors import Unavailable


class LazyDocker:
    def __init__(self, client_factory: Callable[[], docker.DockerClient] = docker.from_env):
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

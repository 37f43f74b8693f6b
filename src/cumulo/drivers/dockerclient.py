"""The one Docker Engine module: the client factory and the one translation of Docker's errors.

- ``client(host)`` is the only place a Docker SDK client is made: ``host`` is ``CUMULO_DOCKER_HOST``
  (``Settings.docker_host``); without it, ``DOCKER_HOST``/the local socket (``docker.from_env``).
- ``translate(exc, what)`` turns an engine error into a ``CumuloError`` at the boundary (404, 409,
  400, or 503 when the engine does not answer); a driver may read an engine message its own way
  first (``refine``: compute's "port is already allocated" is ``PortInUse``).
- ``LazyDocker`` connects on first use (an unreachable engine is ``Unavailable``, 503) and runs a
  blocking SDK call in a worker thread with ``in_thread(what, fn)``, translated.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Self, TypeVar

import docker
import docker.errors
import requests.exceptions

from cumulo.core.errors import Conflict, CumuloError, InvalidInput, NotFound, Unavailable

T = TypeVar("T")
Refine = Callable[[Exception, str, str], CumuloError | None]  # (exc, what, text) -> an error or None
_CONFLICTS = ("already exists", "overlap", "in use", "is already in progress")


def client(host: str | None = None, timeout: int = 60, **kwargs: Any) -> docker.DockerClient:
    """A client of the engine at ``host`` (``CUMULO_DOCKER_HOST``), else ``DOCKER_HOST``/the local socket."""
    if host:
        return docker.DockerClient(base_url=host, timeout=timeout, **kwargs)
    return docker.from_env(timeout=timeout, **kwargs)


def from_settings() -> docker.DockerClient:
    """``client`` for code that has no ``Settings`` at hand: ``CUMULO_DOCKER_HOST`` from the environment."""
    return client(os.environ.get("CUMULO_DOCKER_HOST") or None)


def explain(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def translate(exc: Exception, what: str = "", refine: Refine | None = None) -> CumuloError:
    """Docker's error ``exc`` (while doing ``what``) as the ``CumuloError`` a client sees."""
    if isinstance(exc, CumuloError):
        return exc
    text = explain(exc)
    if refine is not None and (found := refine(exc, what, text)) is not None:
        return found
    prefix = f"{what}: " if what else ""
    if isinstance(exc, docker.errors.ImageNotFound):
        return InvalidInput(f"{prefix}unknown image: {text}")
    if isinstance(exc, docker.errors.NotFound):
        return NotFound(f"{prefix}{text}")
    if isinstance(exc, docker.errors.APIError):
        lowered = text.lower()
        if "active endpoints" in lowered:
            return Conflict(f"{prefix}containers are still attached")
        if exc.status_code == 409 or any(p in lowered for p in _CONFLICTS):
            return Conflict(f"{prefix}{text}")
        if exc.status_code == 400:
            return InvalidInput(f"{prefix}{text}")
        return Unavailable(f"{prefix}Docker engine error: {text[:300]}")
    if isinstance(exc, (docker.errors.DockerException, requests.exceptions.RequestException)):
        return Unavailable(f"{prefix}Docker engine is not reachable: {exc.__class__.__name__}")
    if isinstance(exc, OSError):
        return Unavailable(f"{prefix}{text[:300]}")
    return Unavailable(f"{prefix}Docker engine error: {text[:300]}")


async def run(what: str, fn: Callable[[], T], refine: Refine | None = None) -> T:
    """``fn()`` (blocking SDK calls) in a worker thread; its Docker errors translated."""
    def call() -> T:
        try:
            return fn()
        except CumuloError:
            raise
        except Exception as exc:  # the SDK raises more than DockerException (requests, OSError, ...)
            raise translate(exc, what, refine) from exc
    return await asyncio.to_thread(call)


class LazyDocker:
    """A client connected on first use. Subclasses (engine drivers) call ``self.in_thread(what, fn)``."""

    refine: Refine | None = None  # a driver's own reading of engine messages, before ``translate``

    def __init__(self, client_factory: Callable[[], docker.DockerClient] = from_settings):
        self._factory = client_factory
        self._client: docker.DockerClient | None = None

    @classmethod
    def at(cls, host: str | None, *args: Any, **kwargs: Any) -> Self:
        """An instance whose client is ``client(host)`` (``Settings.docker_host``)."""
        kwargs["client_factory"] = lambda: client(host)
        return cls(*args, **kwargs)

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = self._factory()
            except docker.errors.DockerException as exc:
                raise Unavailable(f"Docker Engine is not reachable: {exc}") from exc
        return self._client

    async def in_thread(self, what: str, fn: Callable[[], T]) -> T:
        return await run(what, fn, self.refine)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

"""Docker helpers shared by the network, volume and metrics tests (real dockerd, no mocks)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from cumulo.core.errors import CumuloError

IMAGE = "cumulo/busybox"


def engine() -> docker.DockerClient:
    return docker.from_env(timeout=120)


@pytest.fixture(scope="session")
def busybox() -> str:
    """The catalogue's busybox image, built locally (no registry) when it is missing."""
    client = engine()
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        from cumulo.drivers.compute.docker import DockerDriver
        from cumulo.services.images.bootstrap import bootstrap

        results = asyncio.run(bootstrap(DockerDriver(), only=[IMAGE]))
        assert all(r.action != "failed" for r in results), results
    return IMAGE


def sh(script: str, *, volumes: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, str]:
    """Run ``sh -c script`` in a throw-away busybox container; (exit code, output)."""
    client = engine()
    container = client.containers.run(IMAGE, ["sh", "-c", script], detach=True,
                                      volumes={name: {"bind": path, "mode": "rw"}
                                               for name, path in (volumes or {}).items()}, **kwargs)
    try:
        code = container.wait(timeout=300)["StatusCode"]
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


@pytest.fixture
def containers() -> Iterator[list[Any]]:
    """Long-running containers started by a test (removed at the end)."""
    started: list[Any] = []
    yield started
    for c in started:
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            pass


def sleeper(containers: list[Any], **kwargs: Any) -> Any:
    c = engine().containers.run(IMAGE, ["sleep", "3600"], detach=True, name=f"t-{uuid.uuid4().hex[:10]}",
                                **kwargs)
    containers.append(c)
    return c


def status_of(call: Any) -> int:
    from cumulo.client.base import ApiError

    try:
        call()
    except ApiError as exc:
        return exc.status
    except CumuloError as exc:
        return exc.status
    raise AssertionError("the call succeeded")

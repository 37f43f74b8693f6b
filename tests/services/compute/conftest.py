"""Helpers for compute tests: they run against the real dockerd and the catalogue images."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import docker
import httpx
import pytest

from cumulo.drivers.compute.docker import DockerDriver
from cumulo.services.images.bootstrap import bootstrap
from cumulo.testing.polling import eventually_served

HTTPD = ["sh", "-c", "echo hello-from-instance; exec httpd -f -p 80 -h /var/www"]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    try:
        client.ping()
    except docker.errors.DockerException:
        pytest.fail("dockerd is not running: ./scripts/ensure-docker.sh", pytrace=False)
    asyncio.run(bootstrap(DockerDriver(), only=["cumulo/busybox"]))  # cached: instant when built
    yield client
    client.close()


@pytest.fixture
def containers_of(docker_client: docker.DockerClient) -> Callable[..., list[Any]]:
    def find(**labels: str) -> list[Any]:
        return docker_client.containers.list(all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]})

    return find


eventually = eventually_served  # a server that does not answer yet counts as "not yet"


def http_body(port: int) -> str | None:
    """The page served on a published host port, once the service really answers."""
    response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    return response.text if response.status_code == 200 else None


def host_port(instance: dict[str, Any], container_port: int = 80) -> int:
    for item in instance["ports"].split(","):
        host, _, container = item.partition(":")
        if int(container) == container_port:
            return int(host)
    raise AssertionError(f"no port {container_port} in {instance['ports']!r}")

"""The drivers every conformance suite runs over, and their clean-up.

A driver joins by one entry in ``DRIVERS``: a name, a factory ``() -> driver`` and its pytest marks
(an engine that needs a daemon or a kernel feature carries the marker that says so, e.g. ``docker``;
the QEMU driver would add ``vm``). Each suite asks for the contract it checks (``runtime``, ``images``,
``stats``); a driver that does not implement a contract (an ``isinstance`` check against the
``cumulo.drivers.compute.contract`` protocol) is skipped for that suite, not failed. Every object a
test makes carries ``LABEL_INSTALLATION`` = ``INSTALLATION`` (unique per run), and the module's
teardown removes every container and image with that label, so parallel runs on one engine never
meet.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo.drivers.compute.base import LABEL_INSTALLATION, ContainerSpec
from cumulo.drivers.compute.contract import ContainerRuntime, ImageStore, StatsSource

INSTALLATION = f"conformance-{uuid.uuid4().hex[:8]}"
BASE_IMAGE = "cumulo/busybox"


def _fake() -> Any:
    from cumulo.testing.fakes import FakeCompute

    return FakeCompute(base=(BASE_IMAGE,))


def _docker() -> Any:
    from cumulo.drivers.compute.docker import DockerDriver

    return DockerDriver()


DRIVERS: list[tuple[str, Callable[[], Any], list[Any]]] = [
    ("fake", _fake, []),
    ("docker", _docker, [pytest.mark.docker, pytest.mark.xdist_group("conformance-docker")]),
]


async def _clean(driver: Any) -> None:
    labels = {LABEL_INSTALLATION: INSTALLATION}
    if isinstance(driver, ContainerRuntime):
        for c in await driver.list(labels):
            await driver.destroy(c.id)
    if isinstance(driver, ImageStore):
        for img in await driver.images(labels):
            for ref in img.tags or [img.id]:
                await driver.remove_image(ref)


@pytest.fixture(scope="module", params=[pytest.param(f, id=n, marks=m) for n, f, m in DRIVERS])
def driver(request: pytest.FixtureRequest) -> Iterator[Any]:
    made = request.param()
    yield made
    asyncio.run(_clean(made))
    if hasattr(made, "close"):
        made.close()


def _needs(driver: Any, contract: type) -> Any:
    if not isinstance(driver, contract):
        pytest.skip(f"{type(driver).__name__} does not implement {contract.__name__}")
    return driver


@pytest.fixture
def runtime(driver: Any) -> ContainerRuntime:
    return _needs(driver, ContainerRuntime)  # type: ignore[no-any-return]


@pytest.fixture
def images(driver: Any) -> ImageStore:
    return _needs(driver, ImageStore)  # type: ignore[no-any-return]


@pytest.fixture
def stats(driver: Any) -> StatsSource:
    return _needs(driver, StatsSource)  # type: ignore[no-any-return]


def name(prefix: str = "c") -> str:
    return f"{INSTALLATION}-{prefix}-{uuid.uuid4().hex[:6]}"


def spec(labels: dict[str, str] | None = None, **kwargs: Any) -> ContainerSpec:
    """A busybox container that sleeps (no network, the default), labelled for clean-up."""
    kwargs.setdefault("command", ["sleep", "300"])
    return ContainerSpec(name=kwargs.pop("name", name()), image=kwargs.pop("image", BASE_IMAGE),
                         labels={LABEL_INSTALLATION: INSTALLATION, **(labels or {})}, **kwargs)


def context(dockerfile: str) -> bytes:
    """A build context holding only ``dockerfile``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

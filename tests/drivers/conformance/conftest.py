"""The drivers every conformance suite runs over, and their clean-up.

A driver joins by one entry in ``DRIVERS``: a name, a factory ``() -> driver``, its pytest marks
(an engine that needs a daemon or a kernel feature carries the marker that says so, e.g. ``docker``,
and an ``xdist_group`` when the module shares it) and the contracts it leaves out. Each suite asks
for the contract it checks (``runtime``, ``images``, ``stats``); a driver that does not implement a
contract (an ``isinstance`` check against the ``cumulo.drivers.compute.contract`` protocol), or
lists it as left out, is skipped for that suite, not failed. The QEMU driver
(``cumulo.drivers.vm.qemu.QemuDriver``, a whole ``ComputeDriver`` whose image calls are not its own)
would join as ``("qemu", lambda: QemuDriver(...), [its marks], (ImageStore,))``. Every object a
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


DRIVERS: list[tuple[str, Callable[[], Any], list[Any], tuple[type, ...]]] = [
    ("fake", _fake, [], ()),
    ("docker", _docker, [pytest.mark.docker, pytest.mark.xdist_group("conformance-docker")], ()),
]
_LEFT_OUT: dict[int, tuple[type, ...]] = {}  # id(driver) -> the contracts its DRIVERS entry leaves out


async def _clean(driver: Any) -> None:
    labels = {LABEL_INSTALLATION: INSTALLATION}
    if isinstance(driver, ContainerRuntime):
        for c in await driver.list(labels):
            await driver.destroy(c.id)
    if isinstance(driver, ImageStore):
        for img in await driver.images(labels):
            for ref in img.tags or [img.id]:
                await driver.remove_image(ref)


@pytest.fixture(scope="module", params=[pytest.param((f, w), id=n, marks=m) for n, f, m, w in DRIVERS])
def driver(request: pytest.FixtureRequest) -> Iterator[Any]:
    factory, without = request.param
    made = factory()
    _LEFT_OUT[id(made)] = without
    yield made
    asyncio.run(_clean(made))
    if hasattr(made, "close"):
        made.close()


def needs(driver: Any, *contracts: type) -> Any:
    """``driver``, or a skip when it lacks (or leaves out) one of ``contracts``."""
    for contract in contracts:
        if not isinstance(driver, contract) or contract in _LEFT_OUT.get(id(driver), ()):
            pytest.skip(f"{type(driver).__name__} does not implement {contract.__name__}")
    return driver


@pytest.fixture
def runtime(driver: Any) -> ContainerRuntime:
    return needs(driver, ContainerRuntime)  # type: ignore[no-any-return]


@pytest.fixture
def images(driver: Any) -> ImageStore:
    return needs(driver, ImageStore)  # type: ignore[no-any-return]


@pytest.fixture
def stats(driver: Any) -> StatsSource:
    return needs(driver, StatsSource)  # type: ignore[no-any-return]


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

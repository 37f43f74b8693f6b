"""Which driver implements which contract (no engine needed: the Docker parts connect on first use).

The suites skip a driver that lacks a contract, so this is what keeps a missing or misspelt method
from turning a suite into skips."""

from __future__ import annotations

from cumulo.drivers.compute.base import ComputeDriver
from cumulo.drivers.compute.contract import ContainerRuntime, ImageStore, StatsSource
from cumulo.drivers.compute.docker import DockerDriver
from cumulo.drivers.compute.dockerimages import DockerImages
from cumulo.drivers.compute.dockerstats import DockerStats
from cumulo.testing.fakes import FakeCompute, FakeContainers, FakeImages, FakeStats

ALL = (ContainerRuntime, ImageStore, StatsSource)


def test_the_whole_drivers_implement_every_contract() -> None:
    for driver in (DockerDriver(), FakeCompute()):
        assert isinstance(driver, ComputeDriver)
        assert all(isinstance(driver, contract) for contract in ALL), type(driver).__name__


def test_each_part_implements_its_own_contract_only() -> None:
    for part, contract in ((DockerImages(), ImageStore), (DockerStats(), StatsSource), (FakeContainers(), ContainerRuntime),
                           (FakeImages(), ImageStore), (FakeStats(), StatsSource)):
        assert [c for c in ALL if isinstance(part, c)] == [contract], type(part).__name__


async def test_fake_parts_made_with_one_state_see_one_engine() -> None:
    from tests.drivers.conformance.conftest import spec

    containers = FakeContainers()
    images, stats = FakeImages(containers.state), FakeStats(containers.state)
    s = spec(memory_mb=32)
    await containers.create(s)  # the image store's base image is the runtime's too
    await containers.start(s.name)
    assert (await stats.stats(s.name)).memory_limit_bytes == 32 * 1024 * 1024
    assert await images.image("cumulo/busybox") is not None

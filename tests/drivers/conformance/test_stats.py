"""The ``StatsSource`` contract, over every driver in ``conftest.DRIVERS`` (the fake and Docker):
a running container has a CPU and memory sample; a missing one is ``NotFound``."""

from __future__ import annotations

import pytest

from cumulo.core.errors import NotFound
from cumulo.drivers.compute.base import ComputeDriver
from cumulo.drivers.compute.contract import ContainerRuntime, StatsSource
from tests.drivers.conformance.conftest import needs, spec


async def test_a_running_container_has_cpu_and_memory(driver: ComputeDriver) -> None:
    needs(driver, StatsSource, ContainerRuntime)
    s = spec(memory_mb=64)
    await driver.create(s)
    await driver.start(s.name)
    sample = await driver.stats(s.name)
    assert sample.cpu_percent >= 0.0
    assert 0 < sample.memory_bytes <= sample.memory_limit_bytes == 64 * 1024 * 1024
    assert 0 < sample.memory_percent <= 100
    assert sample.pids >= 1
    await driver.destroy(s.name)


async def test_stats_of_a_missing_container_are_not_found(stats: StatsSource) -> None:
    with pytest.raises(NotFound):
        await stats.stats("cumulo-conformance-no-such-container")

"""Compute drivers: the contracts (``base.ComputeDriver``, split in ``contract``: ``ContainerRuntime``,
``ImageStore``, ``StatsSource``) and the Docker engine (``docker.DockerDriver``, composing
``dockerimages`` and ``dockerstats`` over ``dockerengine``). Fakes: ``cumulo.testing.fakes``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from cumulo.drivers.compute.base import ComputeDriver

if TYPE_CHECKING:
    from cumulo.drivers.composition import Drivers


class _HasDrivers(Protocol):
    drivers: Drivers


def compute_driver(platform: _HasDrivers) -> ComputeDriver:
    """``platform.drivers.compute`` (kept for the services that call it this way)."""
    return platform.drivers.compute

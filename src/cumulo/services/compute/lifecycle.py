"""At start (every role): readiness asks the Docker Engine for real."""

from __future__ import annotations

from cumulo.drivers.compute import compute_driver
from cumulo.platform import Platform


async def startup(platform: Platform) -> None:
    async def docker() -> str:
        return "CONNECTED" if await compute_driver(platform).ping() else "DISCONNECTED"

    platform.checks["docker"] = docker

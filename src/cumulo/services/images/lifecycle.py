"""At start: builds interrupted by the last shutdown are marked FAILED."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.images import service


async def startup(platform: Platform) -> None:
    await service.fail_interrupted(platform)

"""Background clean-up: temporary files of abandoned uploads (older than an hour) are removed."""

from __future__ import annotations

import asyncio

from cumulo.platform import Platform
from cumulo.services.storage.lifecycle import STALE_SECONDS
from cumulo.services.storage.objects import blob_store


def register(platform: Platform) -> None:
    async def clean() -> None:
        await asyncio.to_thread(blob_store(platform).clean_temp, STALE_SECONDS)

    platform.runner.every("storage.temp-cleanup", 600.0, clean)

"""At start: remove temporary blob files left by uploads that never finished (crash, kill)."""

from __future__ import annotations

import asyncio

from cumulo.platform import Platform
from cumulo.services.storage.objects import blob_store

STALE_SECONDS = 3600.0


async def startup(platform: Platform) -> None:
    await asyncio.to_thread(blob_store(platform).clean_temp, STALE_SECONDS)

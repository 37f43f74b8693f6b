"""Start-up of functions: remove containers left by a crashed process; stop ours at shutdown."""

from __future__ import annotations

import logging

from cumulo.platform import Platform
from cumulo.services.functions import service

log = logging.getLogger("cumulo.functions")


async def startup(platform: Platform) -> None:
    driver = service.docker(platform)
    pool = service.pool(platform)

    async def close() -> None:
        try:
            await pool.close()
        finally:
            driver.close()

    platform.closers.append(close)
    if await driver.ping():
        removed = await pool.remove_orphans()
        if removed:
            log.info("removed %d leftover function containers", removed)

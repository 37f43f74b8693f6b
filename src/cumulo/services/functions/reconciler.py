"""Background work of functions: async invocations, queue event sources, and the warm pool's
housekeeping (idle containers stopped, leftovers of crashed processes removed)."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.functions import invoke, service, sources


def register(platform: Platform) -> None:
    invoke.register_async(platform)
    sources.register_sources(platform)

    async def housekeeping() -> None:
        if "functions.pool" not in platform.extras:
            return
        pool = service.pool(platform)
        pool.reap(platform.settings.function_idle_seconds)
        await pool.remove_orphans()

    platform.runner.every("functions.pool", 5.0, housekeeping)

    async def prune_invocations() -> None:
        await service.prune_invocations(platform)

    platform.runner.every("functions.retention", 600.0, prune_invocations)

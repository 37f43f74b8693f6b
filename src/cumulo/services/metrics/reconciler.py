"""The sampler loop: every ``CUMULO_METRICS_INTERVAL_SECONDS`` record the latest CPU/memory sample
of every running instance; about once a minute drop samples past ``CUMULO_METRICS_RETENTION_SECONDS``."""

from __future__ import annotations

import asyncio

from cumulo.platform import Platform
from cumulo.services.metrics import service

PRUNE_EVERY_SECONDS = 60.0


def register(platform: Platform) -> None:
    s = platform.settings
    passes = {"n": 0}
    prune_every = max(1, int(PRUNE_EVERY_SECONDS / max(s.metrics_interval_seconds, 0.1)))

    async def sample() -> None:
        sam = service.sampler(platform)
        await asyncio.to_thread(sam.refresh)
        samples = sam.take()
        async with platform.db.session() as session:
            if samples:
                await service.store(session, samples)
            if passes["n"] % prune_every == 0:
                await service.drop_older_than(session, s.metrics_retention_seconds)
        passes["n"] += 1

    platform.runner.every("metrics.sampler", s.metrics_interval_seconds, sample)

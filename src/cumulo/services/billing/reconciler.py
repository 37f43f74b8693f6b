"""Background work: the outbox consumer that follows billable resources, and the meter pass."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.runtime import outbox
from cumulo.services.billing import meter, usage_events


def register(platform: Platform) -> None:
    outbox.register(platform, usage_events.CONSUMER, usage_events.handle)

    async def run() -> None:
        await meter.run(platform)

    async def storage() -> None:
        await meter.storage_pass(platform)

    platform.runner.every("billing.meter", platform.settings.billing_meter_seconds, run)
    platform.runner.every("billing.storage", 300.0, storage)

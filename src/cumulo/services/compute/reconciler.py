"""Background work of compute: converge Docker to the database, and the ttl scheduler.

- ``compute.reconcile``: every instance converged and orphans removed, periodically and at start
  (so a restart mid-launch is healed); instances waiting for an on-demand catalogue image get its
  build started again if none runs (``pending``).
- ``compute.expiry``: terminates instances whose ``expires_at`` passed. It sleeps until the next
  deadline (at most a few seconds, so instances launched by another process are seen) and is woken
  by every launch or ttl change. Deadlines live in the database, so they survive restarts.
- ``compute.vm_events``: a QMP event watcher on every running VM (``vmevents``).
- ``instance.reconfigure`` events (a volume attached or detached) recreate that instance's container.
"""

from __future__ import annotations

from cumulo.core.clock import utcnow
from cumulo.core.events import Event
from cumulo.platform import Platform
from cumulo.services.compute import pending, service, vmevents
from cumulo.services.compute.convergence import converge, sweep

MAX_EXPIRY_SLEEP = 5.0


def register(platform: Platform) -> None:
    vmevents.register(platform)  # VM state from QMP events (compute.vm_events)
    async def reconcile() -> None:
        await sweep(platform)
        await pending.resume(platform)  # instances waiting for an image whose build is not running here

    platform.runner.every("compute.reconcile", platform.settings.compute_reconcile_seconds, reconcile)

    async def expire() -> None:
        try:
            await service.expire_due(platform)
        finally:
            nxt = await service.next_expiry(platform)
            wait = MAX_EXPIRY_SLEEP if nxt is None else (nxt - utcnow()).total_seconds()
            expiry.interval = min(max(wait, 0.05), MAX_EXPIRY_SLEEP)

    expiry = platform.runner.every("compute.expiry", MAX_EXPIRY_SLEEP, expire)

    async def reconfigure(event: Event) -> None:
        if event.resource_id:
            await converge(platform, event.resource_id)

    platform.bus.subscribe("instance.reconfigure", reconfigure)

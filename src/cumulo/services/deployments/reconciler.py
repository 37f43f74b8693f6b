"""Background work of deployments, on the reconcile runtime: every deployment is converged
(``rollout.converge``: health checks, healing, the rollout's next step) every
``CUMULO_DEPLOYMENTS_TICK_SECONDS`` and at once after every change; every 30 s, replicas whose
deployment no longer exists (found by their ``cumulo.deployment`` label) are removed."""

from __future__ import annotations

import time

from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.deployments import orphans, rollout, service

ORPHAN_SWEEP_SECONDS = 30.0


def register(platform: Platform) -> None:
    async def converge(dep_id: str) -> None:
        await rollout.converge(platform, dep_id)

    last = {"at": 0.0}

    async def remove_orphans() -> None:
        if time.monotonic() - last["at"] < ORPHAN_SWEEP_SECONDS:
            return
        last["at"] = time.monotonic()
        await orphans.remove(platform, service.LABEL, await service.ids(platform))

    reconcile.register(platform, service.KIND, converge, keys=lambda: service.ids(platform),
                       interval=platform.settings.deployments_tick_seconds, after_sweep=remove_orphans)

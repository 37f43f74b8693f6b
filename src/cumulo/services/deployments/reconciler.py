"""Background work of deployments, on the reconcile runtime: every deployment is converged
(``rollout.converge``: health checks, healing, the rollout's next step) every
``CUMULO_DEPLOYMENTS_TICK_SECONDS`` and at once after every change; after each sweep, replicas
whose deployment no longer exists (found by their ``cumulo.deployment`` label) are removed."""

from __future__ import annotations

import logging
import time

from cumulo.core.errors import CumuloError, NotFound
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_OWNER, LABEL_RESOURCE
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.compute import service as compute
from cumulo.services.deployments import rollout, service

log = logging.getLogger("cumulo.deployments")
ORPHAN_SWEEP_SECONDS = 30.0


def register(platform: Platform) -> None:
    async def converge(dep_id: str) -> None:
        await rollout.converge(platform, dep_id)

    last = {"at": 0.0}

    async def remove_orphans() -> None:
        if time.monotonic() - last["at"] < ORPHAN_SWEEP_SECONDS:
            return
        last["at"] = time.monotonic()
        found = await compute_driver(platform).list({LABEL_INSTALLATION: platform.installation_id})
        members = [c for c in found if c.labels.get(service.LABEL)]
        if not members:
            return
        known = set(await service.ids(platform))
        for c in members:
            if c.labels[service.LABEL] in known or not c.labels.get(LABEL_OWNER):
                continue
            async with platform.db.session() as session:
                try:
                    await compute.delete(platform, session, service.owner(c.labels[LABEL_OWNER]),
                                         c.labels.get(LABEL_RESOURCE, ""))
                    log.info("removed replica %s of a deleted deployment", c.name)
                except NotFound:
                    pass
                except CumuloError as exc:
                    log.warning("replica %s of a deleted deployment not removed: %s", c.name, exc.message)

    reconcile.register(platform, service.KIND, converge, keys=lambda: service.ids(platform),
                       interval=platform.settings.deployments_tick_seconds, after_sweep=remove_orphans)

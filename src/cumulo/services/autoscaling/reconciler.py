"""Background work of auto-scaling groups, on the reconcile runtime: every group is evaluated and
converged (``scaling.converge``) every ``CUMULO_AUTOSCALING_EVAL_SECONDS`` and at once after a
change; after each sweep, members of groups that no longer exist are removed."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.autoscaling import scaling, service
from cumulo.services.deployments import orphans


def register(platform: Platform) -> None:
    async def converge(group_id: str) -> None:
        await scaling.converge(platform, group_id)

    async def remove_orphans() -> None:
        await orphans.remove(platform, service.LABEL, await service.ids(platform))

    reconcile.register(platform, service.KIND, converge, keys=lambda: service.ids(platform),
                       interval=platform.settings.autoscaling_eval_seconds, after_sweep=remove_orphans)

"""Keep every cache's server running: a killed or removed container is started or made again from
its volume (its ACL file and persistence files are there), after a Cumulo restart too. Runs on the
reconcile runtime like the databases' reconciler."""

from __future__ import annotations

from cumulo.core.errors import CumuloError
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.caches import service
from cumulo.services.databases import placement

INTERVAL = 10.0


def register(platform: Platform) -> None:
    async def converge(cache_id: str) -> None:
        try:
            await service.converge(platform, cache_id)
        except CumuloError as exc:
            raise reconcile.TemporaryError(exc.message) from exc

    async def remove_orphans() -> None:
        known = set(await service.ids(platform))
        c = placement.containers(platform)
        for name, resource in await c.labelled({"cumulo.installation": platform.installation_id,
                                                "cumulo.kind": service.KIND}):
            if resource and resource not in known and resource not in set(await service.ids(platform)):
                await c.remove(name)

    reconcile.register(platform, service.RECONCILE, converge, keys=lambda: service.ids(platform), interval=INTERVAL,
                       after_sweep=remove_orphans)

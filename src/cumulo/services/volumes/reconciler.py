"""Bring volumes back after a host reboot or a Docker reset (loop device, mount, Docker volume), and
remove Docker volumes of this installation whose volume no longer exists (seen orphaned on two
sweeps in a row, so a volume being created right now is never touched).

Runs on the reconcile runtime (``cumulo.runtime.reconcile``): one volume at a time under its lease,
woken by an attach in any process (``service.attach``), swept every ``INTERVAL`` seconds, with
backoff for a volume that cannot be restored.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from cumulo.core.errors import CumuloError
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.volumes import service
from cumulo.services.volumes.models import Volume

log = logging.getLogger("cumulo.volumes")
INTERVAL = 60.0


def register(platform: Platform) -> None:
    suspects: set[str] = set()

    async def converge(volume_id: str) -> None:
        async with platform.db.session() as session:
            volume = await session.get(Volume, volume_id)
        if volume is None or volume.status != service.AVAILABLE:
            return  # deleted (its Docker volume goes with the orphan sweep) or not usable
        await service.driver(platform).ensure(volume.id, volume.backend, service.labels(platform, volume))

    async def available() -> list[str]:
        async with platform.db.session() as session:
            return list((await session.scalars(select(Volume.id).where(Volume.status == service.AVAILABLE))).all())

    async def remove_orphans() -> None:
        drv = service.driver(platform)
        async with platform.db.session() as session:
            known = set((await session.scalars(select(Volume.docker_volume))).all())
        ours = await drv.labelled({"cumulo.installation": platform.installation_id, "cumulo.kind": "volume"})
        orphans = set(ours) - known
        for name in orphans & suspects:
            try:
                await drv.destroy(name.removeprefix("cumulo-vol-"))
                log.info("removed orphan volume %s", name)
            except CumuloError as exc:
                log.warning("orphan volume %s not removed: %s", name, exc.message)
        suspects.clear()
        suspects.update(orphans)

    reconcile.register(platform, service.KIND, converge, keys=available, interval=INTERVAL,
                       after_sweep=remove_orphans)

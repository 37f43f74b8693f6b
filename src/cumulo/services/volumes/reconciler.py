"""Bring volumes back after a host reboot or a Docker reset (loop device, mount, Docker volume), and
remove Docker volumes of this installation whose volume no longer exists (seen orphaned on two
passes in a row, so a volume being created right now is never touched)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from cumulo.core.errors import CumuloError
from cumulo.platform import Platform
from cumulo.services.volumes import service
from cumulo.services.volumes.models import Volume

log = logging.getLogger("cumulo.volumes")
INTERVAL = 60.0


def register(platform: Platform) -> None:
    suspects: set[str] = set()

    async def converge() -> None:
        drv = service.driver(platform)
        async with platform.db.session() as session:
            volumes = (await session.scalars(select(Volume).where(Volume.status == service.AVAILABLE))).all()
        for volume in volumes:
            try:
                await drv.ensure(volume.id, volume.backend, service.labels(platform, volume))
            except CumuloError as exc:
                log.error("volume %s cannot be restored: %s", volume.id, exc.message)
        known = {v.docker_volume for v in volumes}
        async with platform.db.session() as session:
            known |= set((await session.scalars(select(Volume.docker_volume))).all())
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

    platform.runner.every("volumes.converge", INTERVAL, converge)

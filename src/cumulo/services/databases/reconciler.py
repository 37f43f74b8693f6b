"""Keep every managed database in its desired state (a killed or removed container is started or
made again from its disk, after a Cumulo restart or a host reboot too), take the daily automated
backups in each database's window and prune backups past their retention.

Runs on the reconcile runtime: one database at a time under its lease, swept every ``INTERVAL``
seconds, with backoff for one that cannot be brought back. A database whose provisioning never
finished is left alone (its first boot needs the password only the create request had).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from cumulo.core.errors import CumuloError
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.databases import backups, convergence, pitr, placement, service
from cumulo.services.databases.models import ManagedDatabase

log = logging.getLogger("cumulo.databases")
INTERVAL = 10.0
BACKUP_INTERVAL = 60.0  # also ships archived WAL: well inside archive_timeout


def register(platform: Platform) -> None:
    async def converge(db_id: str) -> None:
        async with platform.db.session() as session:
            db = await session.get(ManagedDatabase, db_id)
            if db is None or db.status == convergence.CREATING or db.address is None:
                return  # deleted (its request removed the container), being made, or never up
            try:
                if db.status == convergence.AVAILABLE and db.desired == "running":
                    await convergence.note_crash(platform, session, db, convergence.container_name(db.id))
                changes = await convergence.converge(platform, db)
            except CumuloError as exc:
                if db.status != convergence.ERROR or db.error != exc.message:
                    db.status, db.error = convergence.ERROR, exc.message
                    await session.commit()
                raise reconcile.TemporaryError(exc.message) from exc
            if any(getattr(db, k) != v for k, v in changes.items() if k != "updated_at"):
                for key, value in changes.items():
                    setattr(db, key, value)
                try:
                    await session.commit()
                except StaleDataError:
                    return  # deleted meanwhile: its delete removed the container

    async def remove_orphans() -> None:
        """Containers of this installation whose database is gone (a delete interrupted midway)."""
        c = placement.containers(platform)
        known = set(await service.ids(platform))
        for name, resource in await c.labelled({"cumulo.installation": platform.installation_id,
                                                "cumulo.kind": convergence.KIND}):
            if resource and resource not in known:
                async with platform.db.session() as session:
                    if await session.scalar(select(ManagedDatabase.id).where(ManagedDatabase.id == resource)):
                        continue
                await c.remove(name)
                log.info("removed orphan database container %s", name)

    async def backups_loop() -> None:
        await pitr.ship_all(platform)
        await backups.automated(platform)
        await backups.prune(platform)
        await pitr.prune_wal(platform)

    reconcile.register(platform, service.RECONCILE, converge, keys=lambda: service.ids(platform), interval=INTERVAL,
                       after_sweep=remove_orphans)
    platform.runner.every("databases.backups", BACKUP_INTERVAL, backups_loop)

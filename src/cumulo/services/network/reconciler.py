"""Converge Docker to the VPC table: re-create a VPC's network that vanished (engine reset), remove
networks of this installation whose VPC no longer exists (seen orphaned on two passes in a row, so a
VPC being created right now is never touched), and retire default VPCs left without instances."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import CumuloError
from cumulo.platform import Platform
from cumulo.services.network import service
from cumulo.services.network.models import Attachment, Vpc

log = logging.getLogger("cumulo.network")
INTERVAL = 60.0
IDLE_DEFAULT = dt.timedelta(minutes=5)


def register(platform: Platform) -> None:
    suspects: set[str] = set()

    async def converge() -> None:
        async with platform.db.session() as session:
            vpcs = (await session.scalars(select(Vpc))).all()
            used = set((await session.scalars(select(Attachment.vpc_id))).all())
        ours = await platform.drivers.network.labelled({"cumulo.installation": platform.installation_id,
                                                "cumulo.kind": "vpc"})
        wanted = {v.network_name for v in vpcs}
        for vpc in vpcs:
            if vpc.is_default and vpc.id not in used:
                if aware(vpc.created_at) < utcnow() - IDLE_DEFAULT:  # a crash before its retirement
                    await service.retire_default_vpc(platform, vpc.user_id)
                continue
            if vpc.network_name not in ours and not await platform.drivers.network.exists(vpc.network_name):
                try:
                    await platform.drivers.network.create(vpc.network_name, vpc.cidr_block, service.labels(platform, vpc))
                    log.warning("re-created the network of VPC %s", vpc.id)
                except CumuloError as exc:
                    log.error("cannot re-create the network of VPC %s: %s", vpc.id, exc.message)
        orphans = set(ours) - wanted
        for name in orphans & suspects:
            try:
                await platform.drivers.network.remove(name)
                log.info("removed orphan network %s", name)
            except CumuloError as exc:
                log.warning("orphan network %s not removed: %s", name, exc.message)
        suspects.clear()
        suspects.update(orphans)

    platform.runner.every("network.converge", INTERVAL, converge)

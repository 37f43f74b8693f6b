"""Instances launched for a deployment or an auto-scaling group that no longer exists (a crash
between the removal of the resource and of its members): found by their member label, removed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from cumulo.core.errors import CumuloError, NotFound
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_OWNER, LABEL_RESOURCE
from cumulo.platform import Platform
from cumulo.services.compute import service as compute
from cumulo.services.deployments.service import owner

log = logging.getLogger("cumulo.deployments")


async def remove(platform: Platform, label: str, known: Iterable[str]) -> int:
    """Terminate every instance of this installation whose ``label`` names none of ``known``."""
    found = await compute_driver(platform).list({LABEL_INSTALLATION: platform.installation_id})
    alive, removed = set(known), 0
    for c in found:
        parent = c.labels.get(label)
        if not parent or parent in alive or not c.labels.get(LABEL_OWNER):
            continue
        async with platform.db.session() as session:
            try:
                await compute.delete(platform, session, owner(c.labels[LABEL_OWNER]), c.labels.get(LABEL_RESOURCE, ""))
                removed += 1
                log.info("removed %s: its %s %s no longer exists", c.name, label, parent)
            except NotFound:
                pass
            except CumuloError as exc:
                log.warning("%s (of the removed %s %s) not removed: %s", c.name, label, parent, exc.message)
    return removed

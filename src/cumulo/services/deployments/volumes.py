"""Per-replica volumes (``spec.volumes``): each replica slot (0..replicas-1, like a StatefulSet's
ordinals) has its own volume per mount path, made through the volume service (its quota, its
driver, its events) when the slot's first replica starts, and mounted by every later replica of
the slot (a replacement, a rollout's new revision). A scale-down retires the highest slots and
keeps their volumes, which a later scale-up mounts again; a slot volume its owner deleted
meanwhile is made anew. Deleting the deployment deletes them, or with ``keep_volumes`` leaves them
to the owner as ordinary volumes. A volume is mounted by one replica at a time (the volume service
refuses a second attachment), hence rollouts of such deployments are stop-first."""

from __future__ import annotations

import logging
import secrets as pysecrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import CumuloError, NotFound
from cumulo.platform import Platform
from cumulo.services.compute.schemas import VolumeSpec
from cumulo.services.deployments.models import Deployment, SlotVolume
from cumulo.services.deployments.service import owner, slot_volumes
from cumulo.services.volumes import service as volume_service
from cumulo.services.volumes.schemas import VolumeCreate

log = logging.getLogger("cumulo.deployments")


async def for_slot(platform: Platform, session: AsyncSession, dep: Deployment, slot: int,
                   wanted: list[dict[str, Any]]) -> list[VolumeSpec]:
    """The mounts of a replica of ``slot``, making the slot's missing volumes (CumuloError, e.g. the
    volume quota, when one cannot be made)."""
    if not wanted:
        return []
    have = {v.mount_path: v for v in await slot_volumes(session, dep.id) if v.slot == slot}
    mounts = []
    for item in wanted:
        path = item["mount_path"]
        if path in have and not await _exists(session, dep.user_id, have[path].volume_id):
            log.info("deployment %s: slot %d's volume %s was deleted: making another", dep.id, slot,
                     have[path].volume_id)
            await session.delete(have.pop(path))
            await session.flush()
        if path not in have:
            name = f"{dep.name}-r{slot}-{pysecrets.token_hex(3)}"
            async with platform.db.session() as other:
                made = await volume_service.create(platform, other, owner(dep.user_id),
                                                   VolumeCreate(name=name, size_gb=int(item["size_gb"])))
            have[path] = SlotVolume(deployment_id=dep.id, slot=slot, mount_path=path, volume_id=made.id)
            session.add(have[path])
            try:
                await session.commit()
            except BaseException:  # e.g. the deployment went meanwhile: no volume of nobody's slot is left
                await session.rollback()
                async with platform.db.session() as other:
                    await volume_service.delete_volume(platform, other, owner(dep.user_id), made.id)
                raise
        mounts.append(VolumeSpec(volume_id=have[path].volume_id, mount_path=path))
    return mounts


async def _exists(session: AsyncSession, user_id: str, volume_id: str) -> bool:
    try:
        await volume_service.resolve(session, owner(user_id), volume_id)
    except NotFound:
        return False
    return True


async def remove_all(platform: Platform, session: AsyncSession, dep: Deployment) -> bool:
    """Delete every slot volume of the deployment (``keep_volumes``: only forget them, they stay the
    owner's); False while one is still held (retried later)."""
    done = True
    for v in await slot_volumes(session, dep.id):
        if dep.keep_volumes:
            await session.delete(v)
            continue
        try:
            async with platform.db.session() as other:
                await volume_service.delete_volume(platform, other, owner(dep.user_id), v.volume_id)
        except NotFound:
            pass  # deleted by its owner already
        except CumuloError as exc:
            log.info("deployment %s: volume %s not removed yet: %s", dep.id, v.volume_id, exc.message)
            done = False
            continue
        await session.delete(v)
    await session.commit()
    return done

"""Volume use cases (create, list, delete, attach, detach) and the contract with the compute service:
``attach_at_launch``, ``mounts_for_instance``, ``release_instance``. Snapshots are in ``snapshots.py``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.core.errors import Conflict, InvalidInput, QuotaExceeded
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db import locks
from cumulo.db.lookup import owned
from cumulo.drivers.volume.loop import LoopVolumes
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.events import service as events
from cumulo.services.volumes import instances
from cumulo.services.volumes.instances import owned_instance_id
from cumulo.services.volumes.models import Volume, VolumeAttachment
from cumulo.services.volumes.schemas import AttachIn, LaunchVolume, Mount, VolumeCreate, VolumeOut

KIND = "volumes"  # the reconcile runtime's kind (reconciler.py)
MAX_PER_INSTANCE = 16
AVAILABLE, IN_USE, ERROR = "available", "in-use", "error"


def driver(platform: Platform) -> LoopVolumes:
    return platform.drivers.volumes


def labels(platform: Platform, volume: Volume) -> dict[str, str]:
    return {"cumulo.installation": platform.installation_id, "cumulo.kind": "volume",
            "cumulo.resource": volume.id, "cumulo.owner": volume.user_id}


async def resolve(session: AsyncSession, user: Principal, ref: str) -> Volume:
    return await owned(session, Volume, user.user_id, ref, "volume")


async def volume_out(session: AsyncSession, v: Volume, root_filesystem_reset: bool = False) -> VolumeOut:
    att = await session.get(VolumeAttachment, v.id)
    status = IN_USE if att and v.status == AVAILABLE else v.status
    return VolumeOut(id=v.id, name=v.name, size_gb=v.size_gb, status=status, size_enforced=v.backend == "loop",
                     instance_id=att.instance_id if att else None, mount_path=att.mount_path if att else None,
                     docker_volume=v.docker_volume, error=v.error, root_filesystem_reset=root_filesystem_reset,
                     warnings=[instances.ROOT_RESET_WARNING] if root_filesystem_reset else [],
                     created_at=aware(v.created_at))


async def provision(platform: Platform, session: AsyncSession, user: Principal, name: str, size_gb: int) -> Volume:
    """Validate, make the disk, then record it: a failure leaves neither a row nor a disk behind.
    The user's quota lock is held until the caller commits, in every process on this database."""
    await locks.hold(session, f"quota:{user.user_id}")
    if await session.scalar(select(Volume.id).where(Volume.user_id == user.user_id, Volume.name == name)):
        raise Conflict(f"you already have a volume named '{name}'")
    limit = platform.settings.volume_max_size_gb
    if size_gb > limit:
        raise InvalidInput(f"size_gb must be at most {limit} on this installation")
    total = int(await session.scalar(select(func.coalesce(func.sum(Volume.size_gb), 0))
                                     .where(Volume.user_id == user.user_id)) or 0)
    quota = platform.settings.volume_quota_gb
    if total + size_gb > quota:
        raise QuotaExceeded(f"volume quota exceeded: {total} GiB used + {size_gb} GiB requested > {quota} GiB")
    vid = new_id()
    volume = Volume(id=vid, user_id=user.user_id, name=name, size_gb=size_gb, status=AVAILABLE,
                    docker_volume=LoopVolumes.docker_name(vid))
    drv = driver(platform)
    volume.backend = await drv.create(vid, size_gb, labels(platform, volume))
    session.add(volume)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        await drv.destroy(vid)
        raise Conflict(f"you already have a volume named '{name}'") from exc
    except BaseException:
        await drv.destroy(vid)
        raise
    return volume


async def create(platform: Platform, session: AsyncSession, user: Principal, body: VolumeCreate) -> Volume:
    volume = await provision(platform, session, user, body.name, body.size_gb)
    events.record(session, user_id=user.user_id, action="volume.created", resource_type="volume",
                  resource_id=volume.id, name=volume.name, size_gb=volume.size_gb, backend=volume.backend)
    await commit_or_destroy(platform, session, volume)
    return volume


async def commit_or_destroy(platform: Platform, session: AsyncSession, volume: Volume) -> None:
    try:
        await session.commit()
    except BaseException:
        await driver(platform).destroy(volume.id)
        raise


async def list_volumes(session: AsyncSession, user: Principal) -> list[Volume]:
    return list((await session.scalars(select(Volume).where(Volume.user_id == user.user_id)
                                       .order_by(Volume.created_at, Volume.id))).all())


async def delete_volume(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    volume = await resolve(session, user, ref)
    att = await session.get(VolumeAttachment, volume.id)
    if att:
        raise Conflict(f"volume '{volume.name}' is attached to instance {att.instance_id}: detach it first")
    await driver(platform).destroy(volume.id)  # Conflict if a container still holds it
    await session.delete(volume)
    events.record(session, user_id=user.user_id, action="volume.deleted", resource_type="volume",
                  resource_id=volume.id, name=volume.name)
    await session.commit()


# --- attachments -------------------------------------------------------------------------------------

async def _record_attachment(session: AsyncSession, user: Principal, volume: Volume, instance_id: str,
                             mount_path: str) -> None:
    if volume.status != AVAILABLE:
        raise Conflict(f"volume '{volume.name}' is in state {volume.status}: {volume.error or 'not usable'}")
    att = await session.get(VolumeAttachment, volume.id)
    if att:
        raise Conflict(f"volume '{volume.name}' is already attached to instance {att.instance_id}")
    clash = await session.scalar(select(VolumeAttachment.volume_id).where(
        VolumeAttachment.instance_id == instance_id, VolumeAttachment.mount_path == mount_path))
    if clash:
        raise Conflict(f"the instance already has a volume at {mount_path}")
    session.add(VolumeAttachment(volume_id=volume.id, instance_id=instance_id, user_id=user.user_id,
                                 mount_path=mount_path))
    events.record(session, user_id=user.user_id, action="volume.attached", resource_type="volume",
                  resource_id=volume.id, instance_id=instance_id, mount_path=mount_path)


async def attach_at_launch(session: AsyncSession, user: Principal, instance_id: str,
                           specs: list[dict[str, Any]]) -> None:
    """Validate ``[{volume_id, mount_path}]`` of a launch and record the attachments in the caller's
    transaction (no commit). 400 for bad items or duplicates, 404 for unknown/foreign volumes,
    409 for volumes already in use."""
    if not isinstance(specs, list) or len(specs) > MAX_PER_INSTANCE:
        raise InvalidInput(f"volumes must be a list of at most {MAX_PER_INSTANCE} items")
    try:
        items = [LaunchVolume.model_validate(s) for s in specs]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"volumes: {where}: {first.get('msg')}".replace(": : ", ": ")) from None
    paths = [i.mount_path for i in items]
    if len(set(paths)) != len(paths):
        raise InvalidInput("volumes: two volumes have the same mount_path")
    volumes = [await resolve(session, user, i.volume_id) for i in items]
    if len({v.id for v in volumes}) != len(volumes):
        raise InvalidInput("volumes: the same volume is listed twice")
    for volume, item in zip(volumes, items):
        await _record_attachment(session, user, volume, instance_id, item.mount_path)
    await session.flush()


async def mounts_for_instance(session: AsyncSession, instance_id: str) -> list[Mount]:
    rows = (await session.execute(
        select(Volume.docker_volume, VolumeAttachment.mount_path, VolumeAttachment.read_only)
        .join(Volume, Volume.id == VolumeAttachment.volume_id)
        .where(VolumeAttachment.instance_id == instance_id)
        .order_by(VolumeAttachment.mount_path))).all()
    return [Mount(source=r[0], target=r[1], read_only=bool(r[2])) for r in rows]


async def mounts_for_instances(session: AsyncSession, instance_ids: list[str]) -> dict[str, list[Mount]]:
    """``mounts_for_instance`` of many instances in one query (a page of a list)."""
    found: dict[str, list[Mount]] = {i: [] for i in instance_ids}
    if not instance_ids:
        return found
    rows = (await session.execute(
        select(VolumeAttachment.instance_id, Volume.docker_volume, VolumeAttachment.mount_path,
               VolumeAttachment.read_only)
        .join(Volume, Volume.id == VolumeAttachment.volume_id)
        .where(VolumeAttachment.instance_id.in_(instance_ids))
        .order_by(VolumeAttachment.instance_id, VolumeAttachment.mount_path))).all()
    for instance_id, source, target, read_only in rows:
        found[instance_id].append(Mount(source=source, target=target, read_only=bool(read_only)))
    return found


async def release_instance(session: AsyncSession, instance_id: str) -> None:
    """Detach every volume of a deleted instance (in the caller's transaction; the data stays)."""
    await session.execute(delete(VolumeAttachment).where(VolumeAttachment.instance_id == instance_id))


async def attach(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 body: AttachIn) -> tuple[Volume, bool]:
    """The volume, and whether the instance's root filesystem is reset (its container is recreated)."""
    volume = await resolve(session, user, ref)
    instance_id = await owned_instance_id(session, user, body.instance_id)
    await _record_attachment(session, user, volume, instance_id, body.mount_path)
    reset = await instances.will_recreate(session, instance_id,
                                          f"volume attached: {volume.name} at {body.mount_path}")
    await session.commit()
    reconcile.wake(platform, KIND, volume.id)  # its disk is in place before the instance mounts it
    instances.reconfigure(platform, instance_id, user.user_id)
    return volume, reset


async def detach(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> tuple[Volume, bool]:
    volume = await resolve(session, user, ref)
    att = await session.get(VolumeAttachment, volume.id)
    if att is None:
        raise Conflict(f"volume '{volume.name}' is not attached")
    await session.delete(att)
    events.record(session, user_id=user.user_id, action="volume.detached", resource_type="volume",
                  resource_id=volume.id, instance_id=att.instance_id)
    reset = await instances.will_recreate(session, att.instance_id,
                                          f"volume detached: {volume.name} from {att.mount_path}")
    await session.commit()
    instances.reconfigure(platform, att.instance_id, user.user_id)
    return volume, reset

"""Volume snapshots: an archive of the volume's files, restorable into a new volume."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.core.errors import Conflict, not_found
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas
from cumulo.services.volumes import service as volumes
from cumulo.services.volumes.models import Snapshot, Volume
from cumulo.services.volumes.schemas import SnapshotOut

AVAILABLE = "available"


def archive_path(platform: Platform, snapshot_id: str) -> Path:
    return platform.settings.data_dir / "snapshots" / f"{snapshot_id}.tar.gz"


def snapshot_out(s: Snapshot) -> SnapshotOut:
    return SnapshotOut(id=s.id, volume_id=s.volume_id, volume_name=s.volume_name, size_gb=s.size_gb,
                       description=s.description, status=s.status, bytes=s.bytes,
                       created_at=aware(s.created_at))


async def resolve(session: AsyncSession, user: Principal, ref: str) -> Snapshot:
    snap = await session.scalar(select(Snapshot).where(Snapshot.user_id == user.user_id, Snapshot.id == ref))
    if snap is None:
        raise not_found("snapshot", ref)
    return snap


async def create(platform: Platform, session: AsyncSession, user: Principal, volume_ref: str,
                 description: str = "") -> Snapshot:
    volume = await volumes.resolve(session, user, volume_ref)
    if volume.status != volumes.AVAILABLE:
        raise Conflict(f"volume '{volume.name}' is in state {volume.status}")
    await quotas.check(session, platform, user.user_id, "snapshots", lock=False)  # fail fast, before the copy
    sid = new_id()
    path = archive_path(platform, sid)
    size = await volumes.driver(platform).snapshot(volume.id, volume.backend, path)
    try:  # again under the user's quota lock (not held during the copy: on SQLite it blocks every writer)
        await quotas.check(session, platform, user.user_id, "snapshots")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    snap = Snapshot(id=sid, user_id=user.user_id, volume_id=volume.id, volume_name=volume.name,
                    size_gb=volume.size_gb, description=description, status=AVAILABLE, bytes=size)
    session.add(snap)
    events.record(session, user_id=user.user_id, action="snapshot.created", resource_type="snapshot",
                  resource_id=sid, volume_id=volume.id)
    try:
        await session.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return snap


async def list_snapshots(session: AsyncSession, user: Principal, volume_ref: str | None = None) -> list[Snapshot]:
    query = select(Snapshot).where(Snapshot.user_id == user.user_id)
    if volume_ref:
        query = query.where(or_(Snapshot.volume_id == volume_ref, Snapshot.volume_name == volume_ref))
    return list((await session.scalars(query.order_by(Snapshot.created_at, Snapshot.id))).all())


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    snap = await resolve(session, user, ref)
    await session.delete(snap)
    events.record(session, user_id=user.user_id, action="snapshot.deleted", resource_type="snapshot",
                  resource_id=snap.id)
    await session.commit()
    archive_path(platform, snap.id).unlink(missing_ok=True)


async def restore(platform: Platform, session: AsyncSession, user: Principal, ref: str, name: str) -> Volume:
    """A new volume of the snapshot's size holding its files; nothing is left behind on failure."""
    snap = await resolve(session, user, ref)
    volume = await volumes.provision(platform, session, user, name, snap.size_gb)
    drv = volumes.driver(platform)
    try:
        await drv.restore(volume.id, volume.backend, archive_path(platform, snap.id))
    except BaseException:
        await session.rollback()
        await drv.destroy(volume.id)
        raise
    events.record(session, user_id=user.user_id, action="volume.restored", resource_type="volume",
                  resource_id=volume.id, name=volume.name, snapshot_id=snap.id)
    await volumes.commit_or_destroy(platform, session, volume)
    return volume

"""Volume and snapshot routes (``/volumes``, ``/volumes/{id}/attach|detach|snapshots``, ``/snapshots``);
``{volume}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.volumes import service, snapshots
from cumulo.services.volumes.schemas import (
    AttachIn,
    RestoreIn,
    SnapshotCreate,
    SnapshotCreateFor,
    SnapshotOut,
    VolumeCreate,
    VolumeOut,
)

router = APIRouter(tags=["volumes"])


@router.post("/volumes", status_code=201, response_model=VolumeOut)
async def create_volume(body: VolumeCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> VolumeOut:
    return await service.volume_out(session, await service.create(platform, session, user, body))


@router.get("/volumes", response_model=list[VolumeOut])
async def list_volumes(user: UserDep, session: SessionDep) -> list[VolumeOut]:
    return [await service.volume_out(session, v) for v in await service.list_volumes(session, user)]


@router.get("/volumes/{volume}", response_model=VolumeOut)
async def get_volume(volume: str, user: UserDep, session: SessionDep) -> VolumeOut:
    return await service.volume_out(session, await service.resolve(session, user, volume))


@router.delete("/volumes/{volume}", status_code=204)
async def delete_volume(volume: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete_volume(platform, session, user, volume)
    return Response(status_code=204)


@router.post("/volumes/{volume}/attach", response_model=VolumeOut)
async def attach(volume: str, body: AttachIn, user: UserDep, platform: PlatformDep, session: SessionDep) -> VolumeOut:
    vol, reset = await service.attach(platform, session, user, volume, body)
    return await service.volume_out(session, vol, root_filesystem_reset=reset)


@router.post("/volumes/{volume}/detach", response_model=VolumeOut)
async def detach(volume: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> VolumeOut:
    vol, reset = await service.detach(platform, session, user, volume)
    return await service.volume_out(session, vol, root_filesystem_reset=reset)


@router.post("/volumes/{volume}/snapshots", status_code=201, response_model=SnapshotOut)
async def snapshot_volume(volume: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                          body: SnapshotCreate | None = None) -> SnapshotOut:
    description = body.description if body else ""
    return snapshots.snapshot_out(await snapshots.create(platform, session, user, volume, description))


@router.get("/volumes/{volume}/snapshots", response_model=list[SnapshotOut])
async def volume_snapshots(volume: str, user: UserDep, session: SessionDep) -> list[SnapshotOut]:
    await service.resolve(session, user, volume)
    return [snapshots.snapshot_out(s) for s in await snapshots.list_snapshots(session, user, volume)]


@router.post("/snapshots", status_code=201, response_model=SnapshotOut)
async def create_snapshot(body: SnapshotCreateFor, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> SnapshotOut:
    return snapshots.snapshot_out(await snapshots.create(platform, session, user, body.volume_id, body.description))


@router.get("/snapshots", response_model=list[SnapshotOut])
async def list_snapshots(user: UserDep, session: SessionDep,
                         volume_id: str | None = Query(None, max_length=80)) -> list[SnapshotOut]:
    return [snapshots.snapshot_out(s) for s in await snapshots.list_snapshots(session, user, volume_id)]


@router.get("/snapshots/{snapshot}", response_model=SnapshotOut)
async def get_snapshot(snapshot: str, user: UserDep, session: SessionDep) -> SnapshotOut:
    return snapshots.snapshot_out(await snapshots.resolve(session, user, snapshot))


@router.delete("/snapshots/{snapshot}", status_code=204)
async def delete_snapshot(snapshot: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await snapshots.delete(platform, session, user, snapshot)
    return Response(status_code=204)


@router.post("/snapshots/{snapshot}/restore", status_code=201, response_model=VolumeOut)
async def restore_snapshot(snapshot: str, body: RestoreIn, user: UserDep, platform: PlatformDep,
                           session: SessionDep) -> VolumeOut:
    return await service.volume_out(session, await snapshots.restore(platform, session, user, snapshot, body.name))

"""Disk routes: ``/disks`` (create, list, upload), ``/disks/{disk}`` (get, delete, info), the
operations ``/disks/{disk}/resize|convert|rename|clone|attach|detach`` and internal snapshots
``/disks/{disk}/snapshots[/{name}[/revert]]``; ``{disk}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.disks import service
from cumulo.services.disks.schemas import (
    DiskAttach,
    DiskClone,
    DiskConvert,
    DiskCreate,
    DiskImport,
    DiskOut,
    DiskRename,
    DiskResize,
    SnapshotCreate,
    SnapshotOut,
)

router = APIRouter(tags=["disks"])
# uploads are written to disk as they arrive (capped at CUMULO_DISK_MAX_SIZE_GB by the service), not
# buffered under the API's CUMULO_MAX_BODY_BYTES
STREAMED = (("POST", "/disks/upload"),)


@router.post("/disks", status_code=201, response_model=DiskOut)
async def create_disk(body: DiskCreate, user: UserDep, platform: PlatformDep, session: SessionDep,
                      response: Response) -> DiskOut:
    """An empty disk (``size_gb``), or with ``image`` a copy of that image's root disk grown to
    ``size_gb``: answered 202 ``creating``, copied in the background (``progress_percent``)."""
    d = await service.create(platform, session, user, body)
    if d.status == "creating":
        response.status_code = 202
    return service.disk_out(d)


@router.post("/disks/upload", status_code=201, response_model=DiskOut)
async def upload_disk(request: Request, user: UserDep, platform: PlatformDep, session: SessionDep,
                      name: str = Query(min_length=1, max_length=64)) -> DiskOut:
    """The request body is the image (qcow2 or raw); refused when it names a backing or data file."""
    return service.disk_out(await service.upload(platform, session, user, name, request.stream()))


@router.post("/disks/import", status_code=201, response_model=DiskOut)
async def import_disk(body: DiskImport, user: UserDep, platform: PlatformDep, session: SessionDep) -> DiskOut:
    """An image from an object in one of your buckets (``source: s3://BUCKET/KEY``): copied, inspected
    and refused exactly like an upload (qcow2 or raw, no backing or data file)."""
    return service.disk_out(await service.import_object(platform, session, user, body))


@router.get("/disks", response_model=list[DiskOut])
async def list_disks(user: UserDep, session: SessionDep) -> list[DiskOut]:
    return [service.disk_out(d) for d in await service.list_disks(session, user)]


@router.get("/disks/{disk}", response_model=DiskOut)
async def get_disk(disk: str, user: UserDep, session: SessionDep) -> DiskOut:
    return service.disk_out(await service.get(session, user, disk))


@router.get("/disks/{disk}/info")
async def disk_info(disk: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, object]:
    return await service.info(platform, session, user, disk)


@router.delete("/disks/{disk}", status_code=204)
async def delete_disk(disk: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete(platform, session, user, disk)
    return Response(status_code=204)


@router.post("/disks/{disk}/resize", status_code=202, response_model=DiskOut)
async def resize_disk(disk: str, body: DiskResize, user: UserDep, platform: PlatformDep,
                      session: SessionDep) -> DiskOut:
    return service.disk_out(await service.resize(platform, session, user, disk, body))


@router.post("/disks/{disk}/convert", status_code=202, response_model=DiskOut)
async def convert_disk(disk: str, body: DiskConvert, user: UserDep, platform: PlatformDep,
                       session: SessionDep) -> DiskOut:
    return service.disk_out(await service.convert(platform, session, user, disk, body))


@router.post("/disks/{disk}/rename", response_model=DiskOut)
async def rename_disk(disk: str, body: DiskRename, user: UserDep, session: SessionDep) -> DiskOut:
    return service.disk_out(await service.rename(session, user, disk, body))


@router.post("/disks/{disk}/clone", status_code=202, response_model=DiskOut)
async def clone_disk(disk: str, body: DiskClone, user: UserDep, platform: PlatformDep,
                     session: SessionDep) -> DiskOut:
    return service.disk_out(await service.clone(platform, session, user, disk, body))


@router.post("/disks/{disk}/attach", response_model=DiskOut)
async def attach_disk(disk: str, body: DiskAttach, user: UserDep, platform: PlatformDep,
                      session: SessionDep) -> DiskOut:
    """Attached for the VM's next boot (start or reboot): microvm has no hot-plug."""
    return service.disk_out(await service.attach(platform, session, user, disk, body))


@router.post("/disks/{disk}/detach", response_model=DiskOut)
async def detach_disk(disk: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> DiskOut:
    """Gone from the VM at its next boot; until then a running VM keeps it open (delete is 409)."""
    return service.disk_out(await service.detach(platform, session, user, disk))


@router.get("/disks/{disk}/snapshots", response_model=list[SnapshotOut])
async def list_snapshots(disk: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> list[SnapshotOut]:
    return await service.list_snapshots(platform, session, user, disk)


@router.post("/disks/{disk}/snapshots", status_code=201, response_model=SnapshotOut)
async def create_snapshot(disk: str, body: SnapshotCreate, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> SnapshotOut:
    return await service.snapshot(platform, session, user, disk, body)


@router.post("/disks/{disk}/snapshots/{name}/revert", response_model=DiskOut)
async def revert_snapshot(disk: str, name: str, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> DiskOut:
    return service.disk_out(await service.revert(platform, session, user, disk, name))


@router.delete("/disks/{disk}/snapshots/{name}", status_code=204)
async def delete_snapshot(disk: str, name: str, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> Response:
    await service.delete_snapshot(platform, session, user, disk, name)
    return Response(status_code=204)

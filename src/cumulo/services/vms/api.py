"""VirtCloud's paths as aliases (``/vm/...``): ``list``, ``start``, ``stop``, ``delete``,
``stats/runtime`` (also ``runtime-stats``), and ``disk/create|info|resize|convert|rename`` (also the
flat ``create-disk`` ... forms); and Cumulo's own VNC display WebSocket ``/vm/{id}/vnc``. VMs are launched with ``POST /instances {backend: vm}``: VirtCloud's
``/vm/create`` boots a user's disk with an ISO: here ``POST /instances {backend: vm, image: "disk:NAME"}``
boots an uploaded disk image, with a cloud-init seed in place of the ISO."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, WebSocket

from cumulo.api import deps
from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.core.principal import Principal
from cumulo.services.compute import service as compute
from cumulo.services.compute.schemas import InstanceOut
from cumulo.services.disks import service as disks
from cumulo.services.disks.schemas import DiskOut
from cumulo.services.vms import service, vnc
from cumulo.services.vms.schemas import DiskGrow, DiskName, DiskNew, DiskRename, DiskRetype, VmRef

router = APIRouter(tags=["vm (VirtCloud aliases)"])


@router.get("/vm/list")
async def list_vms(user: UserDep, session: SessionDep) -> dict[str, list[InstanceOut]]:
    return {"vms": [await compute.render(session, i) for i in await service.vms(session, user)]}


@router.post("/vm/start", response_model=InstanceOut)
async def start_vm(body: VmRef, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    await service.vm(session, user, body.vm_id)
    return await compute.render(session, await compute.start(platform, session, user, body.vm_id))


@router.post("/vm/stop", response_model=InstanceOut)
async def stop_vm(body: VmRef, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    await service.vm(session, user, body.vm_id)
    return await compute.render(session, await compute.stop(platform, session, user, body.vm_id))


@router.post("/vm/delete")
async def delete_vm(body: VmRef, user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, str]:
    await service.vm(session, user, body.vm_id)
    await compute.delete(platform, session, user, body.vm_id)
    return {"message": "VM deleted", "vm_id": body.vm_id}


@router.websocket("/vm/{vm}/vnc")
async def vm_display(websocket: WebSocket, vm: str) -> None:
    """The VM's graphical console for noVNC: RFB bytes in binary frames both ways, relayed to QEMU's VNC
    server (a unix socket of the VM). Authenticated like ``/instances/{id}/console``."""
    async def authenticate(ws: WebSocket, key: str | None) -> Principal:
        return await deps.authenticate(ws, deps.api_key_from(ws) or key, method="POST")  # input to the guest

    await vnc.serve(websocket, vm, authenticate)


@router.get("/vm/stats/runtime")
@router.get("/vm/runtime-stats")
async def runtime_stats(user: UserDep, session: SessionDep) -> dict[str, Any]:
    return await service.runtime(session, user)


@router.post("/vm/disk/create", status_code=201, response_model=DiskOut)
@router.post("/vm/create-disk", status_code=201, response_model=DiskOut)
async def create_disk(body: DiskNew, user: UserDep, platform: PlatformDep, session: SessionDep) -> DiskOut:
    return disks.disk_out(await service.create_disk(platform, session, user, body.model_dump()))


@router.post("/vm/disk/info")
@router.post("/vm/disk-info", operation_id="disk_info_vm_disk_info_alias_post")  # else the same id as /vm/disk/info
async def disk_info(body: DiskName, user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, object]:
    d = await service.disk_named(session, user, body.name)
    return await disks.info(platform, session, user, d.id)


@router.post("/vm/disk/resize", status_code=202, response_model=DiskOut)
@router.post("/vm/resize-disk", status_code=202, response_model=DiskOut)
async def resize_disk(body: DiskGrow, user: UserDep, platform: PlatformDep, session: SessionDep) -> DiskOut:
    return disks.disk_out(await service.resize_disk(platform, session, user, body.name, body.resize_by))


@router.post("/vm/disk/convert", status_code=202, response_model=DiskOut)
@router.post("/vm/convert-disk", status_code=202, response_model=DiskOut)
async def convert_disk(body: DiskRetype, user: UserDep, platform: PlatformDep, session: SessionDep) -> DiskOut:
    return disks.disk_out(await service.convert_disk(platform, session, user, body.source_name, body.target_format))


@router.post("/vm/disk/rename", response_model=DiskOut)
@router.post("/vm/rename-disk", response_model=DiskOut)
async def rename_disk(body: DiskRename, user: UserDep, session: SessionDep) -> DiskOut:
    return disks.disk_out(await service.rename_disk(session, user, body.current_name, body.new_name))

"""Instance routes (seed: Compute Instances). ``{instance}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse

from cumulo.api import deps
from cumulo.api.deps import PageDep, PlatformDep, SessionDep, UserDep
from cumulo.core.principal import Principal
from cumulo.services.compute import console, display, execution, listing, service
from cumulo.services.compute.schemas import InstanceCreate, InstanceOut, InstanceUpdate, StatsOut

router = APIRouter(tags=["compute"])


@router.post("/instances", status_code=201, response_model=InstanceOut)
async def launch(body: InstanceCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    """Launch an instance; answers once it is RUNNING (or ERROR with the reason), or at once PENDING
    when its on-demand catalogue image (``cumulo/desktop``) is built first (then it goes on by itself)."""
    return await service.render(session, await service.launch(platform, session, user, body))


@router.get("/instances", response_model=list[InstanceOut])
async def list_instances(user: UserDep, session: SessionDep, page: PageDep, request: Request,
                         response: Response) -> list[InstanceOut]:
    """Your instances in launch order; ``?q=`` (name, image, status, IP), ``?status=``, ``?limit=``
    and ``?offset=`` search and page on the server (``X-Total-Count``, ``Link: rel="next"``)."""
    rows, total = await listing.page(session, user, page)
    deps.page_headers(request, response, page, total, len(rows))
    return rows


@router.get("/instances/{instance}", response_model=InstanceOut)
async def get_instance(instance: str, user: UserDep, session: SessionDep) -> InstanceOut:
    return await service.render(session, await service.get_instance(session, user, instance))


@router.put("/instances/{instance}", response_model=InstanceOut)
@router.patch("/instances/{instance}", response_model=InstanceOut)
async def update(instance: str, body: InstanceUpdate, user: UserDep, platform: PlatformDep,
                 session: SessionDep) -> InstanceOut:
    """Rename, or set ``ttl_seconds`` (from now; null removes the limit)."""
    return await service.render(session, await service.update(platform, session, user, instance, body))


@router.delete("/instances/{instance}", status_code=204)
async def terminate(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete(platform, session, user, instance)
    return Response(status_code=204)


@router.post("/instances/{instance}/stop", response_model=InstanceOut)
async def stop(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    return await service.render(session, await service.stop(platform, session, user, instance))


@router.post("/instances/{instance}/start", response_model=InstanceOut)
async def start(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    return await service.render(session, await service.start(platform, session, user, instance))


@router.post("/instances/{instance}/reboot", response_model=InstanceOut)
async def reboot(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    return await service.render(session, await service.reboot(platform, session, user, instance))


@router.post("/instances/{instance}/pause", response_model=InstanceOut)
async def pause(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    """A VM only: its vCPUs halt (QMP ``stop``), memory and disks kept; PAUSED until resumed."""
    return await service.render(session, await service.set_paused(platform, session, user, instance, True))


@router.post("/instances/{instance}/resume", response_model=InstanceOut)
async def resume(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> InstanceOut:
    return await service.render(session, await service.set_paused(platform, session, user, instance, False))


@router.get("/instances/{instance}/logs", response_class=PlainTextResponse)
async def logs(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep,
               tail: int = Query(100, ge=1, le=service.MAX_LOG_LINES)) -> PlainTextResponse:
    return PlainTextResponse(await service.logs(platform, session, user, instance, tail))


@router.get("/instances/{instance}/stats", response_model=StatsOut)
async def stats(instance: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> StatsOut:
    return await service.stats(platform, session, user, instance)


@router.post("/instances/{instance}/exec", response_model=execution.ExecOut)
async def exec_command(instance: str, body: execution.ExecIn, user: UserDep, platform: PlatformDep,
                       session: SessionDep) -> execution.ExecOut:
    """Run one command to completion (no TTY): exit code, stdout and stderr (``cumulo exec``)."""
    return await execution.execute(platform, session, user, instance, body)


@router.websocket("/instances/{instance}/console")
async def instance_console(websocket: WebSocket, instance: str) -> None:
    """Interactive shell (exec with a TTY). Binary frames carry terminal bytes both ways; a text
    frame ``{"resize": [cols, rows]}`` resizes. Authenticate with ``X-API-Key`` (or ``?api_key=``)."""
    async def authenticate(ws: WebSocket, key: str | None) -> Principal:
        return await deps.authenticate(ws, deps.api_key_from(ws) or key, method="POST")  # a shell is a write

    await console.serve(websocket, instance, authenticate)


@router.websocket("/instances/{instance}/vnc")
async def instance_desktop(websocket: WebSocket, instance: str) -> None:
    """A container's desktop for noVNC (the ``cumulo/desktop`` image): RFB bytes in binary frames
    both ways, relayed to port 5900 of the instance; its VNC server asks for the instance's password.
    Authenticated like ``/instances/{id}/console``; a VM's display is ``/vm/{id}/vnc``."""
    async def authenticate(ws: WebSocket, key: str | None) -> Principal:
        return await deps.authenticate(ws, deps.api_key_from(ws) or key, method="POST")  # input to the desktop

    await display.serve(websocket, instance, authenticate)

"""A container's graphical desktop: the WebSocket ``/instances/{id}/vnc`` relays RFB (VNC) bytes,
binary frames both ways, between the instance's owner and the VNC server the container runs on its
own address, port 5900 (the ``cumulo/desktop`` image: Xvfb, a window manager and a browser, with
x11vnc asking for the instance's password). noVNC connects to it as is.

The caller is checked as on the terminal WebSocket (``console``: the same key sources, the API's
rate limit and scopes, a console cookie only from the API's own origin); another user's instance is
404, one that does not run 409, a container with no VNC server 503. A VM's display is
``/vm/{id}/vnc`` (QEMU's own, on a unix socket); asked here it is 400 naming that path. Only port
5900 of the caller's own instance is ever dialled: the relay reaches nothing else. Open desktops are
capped like VM displays, by the same code (``console.serve_screen``): past
``CUMULO_VM_VNC_SESSIONS_PER_VM`` of the instance or ``CUMULO_VM_VNC_SESSIONS_PER_USER`` of the user
(VM displays and desktops together), 429.
"""

from __future__ import annotations

import asyncio

from fastapi import WebSocket

from cumulo.core.errors import Conflict, CumuloError, InvalidInput, Unavailable
from cumulo.platform import Platform
from cumulo.services.compute.console import Authenticate, accept_viewer, refuse, serve_screen
from cumulo.services.compute.service import get_instance

VNC_PORT = 5900
CONNECT_SECONDS = 10.0


async def serve(websocket: WebSocket, ref: str, authenticate: Authenticate) -> None:
    platform: Platform = websocket.app.state.platform
    try:
        user = await accept_viewer(websocket, authenticate)
        async with platform.db.session() as session:
            inst = await get_instance(session, user, ref)
            if (inst.meta or {}).get("backend") == "vm":
                raise InvalidInput(f"'{inst.name}' is a VM: its display is /vm/{inst.id}/vnc")
            if inst.status != "RUNNING" or not inst.container_id:
                raise Conflict(f"instance '{inst.name}' is {inst.status}: its desktop needs it RUNNING")
            address = inst.ip_address or inst.ipv4_address
            if not address:
                raise Unavailable(f"instance '{inst.name}' has no address yet")
    except CumuloError as exc:
        await refuse(websocket, exc)
        return

    async def dial() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(asyncio.open_connection(address, VNC_PORT), CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise Unavailable(f"no VNC server answers on port {VNC_PORT} of '{inst.name}' (the cumulo/desktop "
                              f"image runs one): {str(exc) or 'timed out'}") from exc

    await serve_screen(websocket, platform, user, inst, "instance", dial)

"""A VM's graphical console: a WebSocket relaying RFB (VNC) bytes, binary frames both ways, between
its owner and the VM's VNC server, a unix socket in its machine folder (never a TCP port on the host).
noVNC connects to it as is: the guest's RFB handshake (``RFB 003.008``) is the first frame.

The caller is authenticated exactly as on the instance console WebSocket (``compute.console``): the
``X-API-Key`` header, else the subprotocol ``cumulo.key.<key>`` (browsers), else ``?api_key=``; the
route in ``api.py`` passes in the API's check (rate limit and key scopes included). Another user's
VM, and an instance that is a container, are 404; a VM that does not run, or has no display (a
catalogue microvm VM), is 409; past ``CUMULO_VM_VNC_SESSIONS_PER_VM`` open displays of the VM, or
``CUMULO_VM_VNC_SESSIONS_PER_USER`` of the user (VM displays and desktops together), 429 (slots held
across API processes, by ``compute.console.serve_screen``, which the desktop relay shares).
"""

from __future__ import annotations

import asyncio

from fastapi import WebSocket

from cumulo.core.errors import Conflict, CumuloError, Unavailable
from cumulo.platform import Platform
from cumulo.services.compute.console import Authenticate, accept_viewer, refuse, serve_screen
from cumulo.services.compute.vms import vm_driver
from cumulo.services.vms import service


async def serve(websocket: WebSocket, ref: str, authenticate: Authenticate) -> None:
    platform: Platform = websocket.app.state.platform
    try:
        user = await accept_viewer(websocket, authenticate)
        async with platform.db.session() as session:
            inst = await service.vm(session, user, ref)
            if inst.status != "RUNNING" or not inst.container_id:
                raise Conflict(f"VM '{inst.name}' is {inst.status}: its display needs it RUNNING")
        path = vm_driver(platform).display(inst.container_id)
    except CumuloError as exc:
        await refuse(websocket, exc)
        return

    async def dial() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.open_unix_connection(str(path))
        except OSError as exc:
            raise Unavailable(f"the VM's display does not answer: {exc}") from exc

    await serve_screen(websocket, platform, user, inst, "VM", dial)  # 429 past either cap

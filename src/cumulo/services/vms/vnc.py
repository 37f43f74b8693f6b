"""A VM's graphical console: a WebSocket relaying RFB (VNC) bytes, binary frames both ways, between
its owner and the VM's VNC server, a unix socket in its machine folder (never a TCP port on the host).
noVNC connects to it as is: the guest's RFB handshake (``RFB 003.008``) is the first frame.

The caller is authenticated exactly as on the instance console WebSocket (``compute.console``): the
``X-API-Key`` header, else the subprotocol ``cumulo.key.<key>`` (browsers), else ``?api_key=``; the
route in ``api.py`` passes in the API's check (rate limit and key scopes included). Another user's
VM, and an instance that is a container, are 404; a VM that does not run, or has no display (a
catalogue microvm VM), is 409; past ``CUMULO_VM_VNC_SESSIONS_PER_VM`` open displays of the VM, or
``CUMULO_VM_VNC_SESSIONS_PER_USER`` of the user, 429 (slots held across API processes).
"""

from __future__ import annotations

import asyncio
import json

from fastapi import WebSocket

from cumulo.core.errors import Conflict, CumuloError, Unavailable
from cumulo.drivers.vm import slots
from cumulo.platform import Platform
from cumulo.services.compute.console import CLOSE_CODES, Authenticate, accept_viewer, relay_rfb
from cumulo.services.compute.vms import vm_driver
from cumulo.services.events import service as events
from cumulo.services.vms import service


async def serve(websocket: WebSocket, ref: str, authenticate: Authenticate) -> None:
    platform: Platform = websocket.app.state.platform
    try:
        user = await accept_viewer(websocket, authenticate)
        async with platform.db.session() as session:
            inst = await service.vm(session, user, ref)
            if inst.status != "RUNNING" or not inst.container_id:
                raise Conflict(f"VM '{inst.name}' is {inst.status}: its display needs it RUNNING")
        driver, s = vm_driver(platform), platform.settings
        path = driver.display(inst.container_id)
        held = driver.display_slots(inst.container_id, user.user_id, s.vm_vnc_sessions_per_vm,
                                    s.vm_vnc_sessions_per_user)  # 429 past either cap
    except CumuloError as exc:
        await _refuse(websocket, exc)
        return
    try:
        async with platform.db.session() as session:
            events.record(session, user_id=user.user_id, action="instance.vnc_opened", resource_type="instance",
                          resource_id=inst.id, name=inst.name)
            await session.commit()
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except OSError as exc:
            raise Unavailable(f"the VM's display does not answer: {exc}") from exc
    except BaseException as exc:
        slots.release(*held)
        if not isinstance(exc, CumuloError):
            raise
        await _refuse(websocket, exc)
        return
    try:
        await relay_rfb(websocket, reader, writer)
    finally:
        slots.release(*held)  # the session's slots are free again


async def _refuse(websocket: WebSocket, exc: CumuloError) -> None:
    await websocket.send_text(json.dumps(exc.body()))
    await websocket.close(code=CLOSE_CODES.get(exc.status, 4400))

"""A VM's graphical console: a WebSocket relaying RFB (VNC) bytes, binary frames both ways, between
its owner and the VM's VNC server, a unix socket in its machine folder (never a TCP port on the host).
noVNC connects to it as is: the guest's RFB handshake (``RFB 003.008``) is the first frame.

The caller is authenticated exactly as on the instance console WebSocket (``compute.console``): the
``X-API-Key`` header, else the subprotocol ``cumulo.key.<key>`` (browsers), else ``?api_key=``; the
route in ``api.py`` passes in the API's check (rate limit and key scopes included). Another user's
VM, and an instance that is a container, are 404; a VM that does not run is 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import WebSocket, WebSocketDisconnect

from cumulo.core.errors import Conflict, CumuloError, Unavailable
from cumulo.platform import Platform
from cumulo.services.compute.console import CLOSE_CODES, KEY_SUBPROTOCOL, Authenticate, until_either
from cumulo.services.compute.vms import vm_driver
from cumulo.services.events import service as events
from cumulo.services.vms import service

SUBPROTOCOLS = ("binary", "cumulo.vnc")  # answered when offered (noVNC offers "binary" or nothing)
CHUNK = 65536


def _key_in(subprotocols: list[str]) -> str | None:
    return next((p[len(KEY_SUBPROTOCOL):] for p in subprotocols
                 if p.startswith(KEY_SUBPROTOCOL) and len(p) > len(KEY_SUBPROTOCOL)), None)


async def serve(websocket: WebSocket, ref: str, authenticate: Authenticate) -> None:
    platform: Platform = websocket.app.state.platform
    offered = list(websocket.scope.get("subprotocols") or [])
    await websocket.accept(subprotocol=next((p for p in SUBPROTOCOLS if p in offered), None))
    try:
        user = await authenticate(websocket, _key_in(offered) or websocket.query_params.get("api_key"))
        async with platform.db.session() as session:
            inst = await service.vm(session, user, ref)
            if inst.status != "RUNNING" or not inst.container_id:
                raise Conflict(f"VM '{inst.name}' is {inst.status}: its display needs it RUNNING")
            events.record(session, user_id=user.user_id, action="instance.vnc_opened", resource_type="instance",
                          resource_id=inst.id, name=inst.name)
            await session.commit()
        path = vm_driver(platform).display(inst.container_id)
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except OSError as exc:
            raise Unavailable(f"the VM's display does not answer: {exc}") from exc
    except CumuloError as exc:
        await websocket.send_text(json.dumps(exc.body()))
        await websocket.close(code=CLOSE_CODES.get(exc.status, 4400))
        return
    await _relay(websocket, reader, writer)


async def _relay(websocket: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async def outbound() -> None:
        while data := await reader.read(CHUNK):
            await websocket.send_bytes(data)

    async def inbound() -> None:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes"):  # RFB is binary: a text frame carries nothing for it
                writer.write(msg["bytes"])
                await writer.drain()

    try:
        await until_either(outbound(), inbound())
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()

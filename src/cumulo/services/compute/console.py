"""The console WebSocket: a TTY shell inside a running instance, bridged byte for byte.

The API key comes, in this order, from the ``X-API-Key``/``Authorization: Bearer`` header (the CLI),
the WebSocket subprotocol ``cumulo.key.<key>`` offered next to ``cumulo.console`` (browsers cannot
set headers; the server answers with ``cumulo.console`` only, never echoing the key), or the legacy
``?api_key=`` query parameter (still accepted; redacted from the log). It is checked by
``cumulo.api.deps.authenticate``, like every REST call (rate limit and key scopes included): the
route in ``api.py`` passes it in as ``authenticate``, so this module stays below the API layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from cumulo.core.errors import Conflict, CumuloError
from cumulo.core.principal import Principal
from cumulo.drivers.compute.base import Console
from cumulo.drivers.vm import slots
from cumulo.platform import Platform
from cumulo.services.compute.models import Instance
from cumulo.services.compute.service import get_instance
from cumulo.services.compute.vms import instance_driver
from cumulo.services.events import service as events

log = logging.getLogger("cumulo.compute")
SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"]
CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 409: 4409, 429: 4429}
SUBPROTOCOL = "cumulo.console"
KEY_SUBPROTOCOL = "cumulo.key."


Authenticate = Callable[[WebSocket, str | None], Awaitable[Principal]]


async def serve(websocket: WebSocket, ref: str, authenticate: Authenticate) -> None:
    """``authenticate(websocket, key_from_subprotocol_or_query)``: the API's check of the caller (a
    header key wins over the one given here)."""
    platform: Platform = websocket.app.state.platform
    offered = list(websocket.scope.get("subprotocols") or [])
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        user = await authenticate(websocket, key_in(offered) or websocket.query_params.get("api_key"))
        async with platform.db.session() as session:
            inst = await get_instance(session, user, ref)
            if inst.status != "RUNNING" or not inst.container_id:
                raise Conflict(f"instance '{inst.name}' is {inst.status}: the console needs it RUNNING")
            events.record(session, user_id=user.user_id, action="instance.console_opened", resource_type="instance",
                          resource_id=inst.id, name=inst.name)
            await session.commit()
        cols, rows = _size(websocket.query_params.get("cols"), websocket.query_params.get("rows"))
        term = await instance_driver(platform).console(inst.container_id, SHELL, cols, rows)
    except CumuloError as exc:
        await websocket.send_text(json.dumps(exc.body()))
        await websocket.close(code=CLOSE_CODES.get(exc.status, 4400))
        return
    await _bridge(websocket, term)


def _size(cols: str | None, rows: str | None) -> tuple[int, int]:
    def clamp(value: str | None, default: int) -> int:
        return min(max(int(value), 10), 1000) if value and value.isdigit() else default

    return clamp(cols, 80), clamp(rows, 24)


async def _bridge(websocket: WebSocket, term: Console) -> None:
    async def outbound() -> None:
        while data := await asyncio.to_thread(term.read):
            await websocket.send_bytes(data)

    async def inbound() -> None:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
            if msg.get("bytes"):
                await asyncio.to_thread(term.write, msg["bytes"])
            elif msg.get("text"):
                text = msg["text"]
                control = _control(text)
                if control is not None:
                    await asyncio.to_thread(term.resize, *control)
                else:
                    await asyncio.to_thread(term.write, text.encode())

    try:
        await until_either(outbound(), inbound())
    finally:
        await asyncio.to_thread(term.close)  # a serial line's waits until the guest has read what was typed
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


async def until_either(*directions: Coroutine[Any, Any, None]) -> None:
    """Run a relay's directions until one ends (that side closed), then stop the others."""
    tasks = [asyncio.create_task(d) for d in directions]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _control(text: str) -> tuple[int, int] | None:
    if not text.startswith("{"):
        return None
    try:
        cols, rows = json.loads(text)["resize"]
        return _size(str(int(cols)), str(int(rows)))
    except (ValueError, KeyError, TypeError):
        return None


RFB_CHUNK = 65536


async def relay_rfb(websocket: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A VNC screen to its viewer: RFB bytes both ways between ``websocket`` and a display server's
    stream until either side ends; then both are closed (the desktop relay and the VM relay)."""
    async def outbound() -> None:
        while data := await reader.read(RFB_CHUNK):
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


VNC_SUBPROTOCOLS = ("binary", "cumulo.vnc")  # answered when offered (noVNC offers "binary" or nothing)


def key_in(subprotocols: list[str]) -> str | None:
    """The API key a browser sends as a WebSocket subprotocol (``<KEY_SUBPROTOCOL><key>``), if any."""
    return next((p[len(KEY_SUBPROTOCOL):] for p in subprotocols
                 if p.startswith(KEY_SUBPROTOCOL) and len(p) > len(KEY_SUBPROTOCOL)), None)


async def accept_viewer(websocket: WebSocket, authenticate: Authenticate) -> Principal:
    """A VNC viewer's WebSocket (the desktop and VM screens): accepted with the subprotocol it offered,
    then its caller authenticated from the key in a subprotocol or ``?api_key=`` (raises as
    ``authenticate`` does)."""
    offered = list(websocket.scope.get("subprotocols") or [])
    await websocket.accept(subprotocol=next((p for p in VNC_SUBPROTOCOLS if p in offered), None))
    return await authenticate(websocket, key_in(offered) or websocket.query_params.get("api_key"))


Dial = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def refuse(websocket: WebSocket, exc: CumuloError) -> None:
    """The error's JSON as a text frame, then the close code of its status (4400 / 4503 for others)."""
    await websocket.send_text(json.dumps(exc.body()))
    await websocket.close(code=CLOSE_CODES.get(exc.status, 4400 if exc.status < 500 else 4503))


async def serve_screen(websocket: WebSocket, platform: Platform, user: Principal, inst: Instance, what: str,
                       dial: Dial) -> None:
    """A checked caller's VNC session of ``inst`` (a VM's display or a desktop container's): one slot of
    the screen's ``CUMULO_VM_VNC_SESSIONS_PER_VM`` and one of the user's ``CUMULO_VM_VNC_SESSIONS_PER_USER``
    (over VMs and desktops alike; past either 429, close 4429), ``flock``ed files under
    ``<data dir>/vnc-slots`` so the caps hold across API processes; then ``instance.vnc_opened``, the
    display dialled and RFB relayed until either side ends. The slots are free again however it ends."""
    s = platform.settings
    try:
        held = slots.take_screen(slots.screen_root(s.data_dir), user.user_id, s.vm_vnc_sessions_per_user,
                                 inst.id, s.vm_vnc_sessions_per_vm, what)
    except CumuloError as exc:
        await refuse(websocket, exc)
        return
    try:
        async with platform.db.session() as session:
            events.record(session, user_id=user.user_id, action="instance.vnc_opened", resource_type="instance",
                          resource_id=inst.id, name=inst.name)
            await session.commit()
        reader, writer = await dial()
    except BaseException as exc:
        slots.release(*held)
        if not isinstance(exc, CumuloError):
            raise
        await refuse(websocket, exc)
        return
    try:
        await relay_rfb(websocket, reader, writer)
    finally:
        slots.release(*held)

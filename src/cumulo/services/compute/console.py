"""The console WebSocket: a TTY shell inside a running instance, bridged byte for byte."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import WebSocket, WebSocketDisconnect

from cumulo.api.deps import api_key_from
from cumulo.core.errors import Conflict, CumuloError, Unauthorized
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import Console
from cumulo.platform import Platform
from cumulo.services.compute.service import get_instance
from cumulo.services.events import service as events
from cumulo.services.identity import service as identity

log = logging.getLogger("cumulo.compute")
SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"]
CLOSE_CODES = {401: 4401, 404: 4404, 409: 4409}


async def serve(websocket: WebSocket, ref: str) -> None:
    platform: Platform = websocket.app.state.platform
    await websocket.accept()
    try:
        key = api_key_from(websocket) or websocket.query_params.get("api_key")  # type: ignore[arg-type]
        if not key:
            raise Unauthorized("missing API key: send it in the X-API-Key header")
        user = await identity.authenticate(platform, key)
        async with platform.db.session() as session:
            inst = await get_instance(session, user, ref)
            if inst.status != "RUNNING" or not inst.container_id:
                raise Conflict(f"instance '{inst.name}' is {inst.status}: the console needs it RUNNING")
            events.record(session, user_id=user.user_id, action="instance.console_opened", resource_type="instance",
                          resource_id=inst.id, name=inst.name)
            await session.commit()
        cols, rows = _size(websocket.query_params.get("cols"), websocket.query_params.get("rows"))
        term = await compute_driver(platform).console(inst.container_id, SHELL, cols, rows)
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

    tasks = [asyncio.create_task(outbound()), asyncio.create_task(inbound())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        term.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


def _control(text: str) -> tuple[int, int] | None:
    if not text.startswith("{"):
        return None
    try:
        cols, rows = json.loads(text)["resize"]
        return _size(str(int(cols)), str(int(rows)))
    except (ValueError, KeyError, TypeError):
        return None

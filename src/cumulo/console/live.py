"""Live updates: ``GET /events/stream``, server-sent events of the caller's own audit events.

One ``Hub`` per API process reads the audit outbox (``cumulo.runtime.outbox``) from a cursor of its
own (``console.live.<process>``, started at the end: a stream shows what happens from now on) while
at least one stream is open, and hands each event to the open streams of the user it belongs to,
and to no one else. It runs at once on every audited commit (the ``outbox`` signal, from any process
on PostgreSQL) and at least every ``POLL`` seconds. An event says what changed (action, resource type
and id); the page reads the resource again through the public API. Delivery is at least once.

Also usable outside the console: ``curl -N -H "X-API-Key: $KEY" $CUMULO/events/stream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.api.deps import UserDep
from cumulo.core.errors import RateLimited
from cumulo.platform import Platform
from cumulo.runtime import outbox

log = logging.getLogger("cumulo.console")
router = APIRouter(tags=["console"])

POLL = 2.0  # seconds between reads of the outbox when no signal came
HELD_POLL = 0.1  # PostgreSQL: events committed but still below the horizon
HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle stream
MAX_STREAMS_PER_USER = 8  # open streams per user (each tab holds one)
STALE_CURSOR = 86400.0  # seconds: a console cursor not moved for a day belongs to a process that died
QUEUE = 1000  # events waiting per stream; a stream that falls further behind is told to reload


class Hub:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.name = f"console.live.{uuid.uuid4().hex[:12]}"
        self.streams: dict[str, set[asyncio.Queue[dict[str, object] | None]]] = defaultdict(set)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event = asyncio.Event()

    @classmethod
    def of(cls, platform: Platform) -> Hub:
        hub = getattr(platform, "_console_hub", None)
        if hub is None:
            hub = cls(platform)
            platform._console_hub = hub  # type: ignore[attr-defined]
            platform.signals.on(outbox.TOPIC, lambda _payload: hub._wake.set())
        return hub

    async def subscribe(self, user_id: str) -> asyncio.Queue[dict[str, object] | None]:
        if len(self.streams.get(user_id, ())) >= MAX_STREAMS_PER_USER:
            raise RateLimited(5, f"at most {MAX_STREAMS_PER_USER} live streams per user: close a console tab")
        queue: asyncio.Queue[dict[str, object] | None] = asyncio.Queue(QUEUE)
        self.streams[user_id].add(queue)
        if self._task is None or self._task.done():
            self._ready = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=self.name)
        await self._ready.wait()  # the cursor is in place: nothing committed from now on is missed
        return queue

    def unsubscribe(self, user_id: str, queue: asyncio.Queue[dict[str, object] | None]) -> None:
        self.streams[user_id].discard(queue)
        if not self.streams[user_id]:
            del self.streams[user_id]
        if not self.streams and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _handle(self, _session: AsyncSession, entry: outbox.Entry) -> None:
        queues = self.streams.get(entry.user_id or "")
        if not queues:
            return
        event: dict[str, object] = {"id": entry.id, "action": entry.action, "resource_type": entry.resource_type,
                 "resource_id": entry.resource_id, "data": entry.data, "created_at": entry.created_at.isoformat()}
        for queue in list(queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # too far behind: the page reloads its data
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(None)

    async def _run(self) -> None:
        try:
            await self.platform.signals.listen()  # an API-only process hears the workers' commits (PostgreSQL)
            await self._sweep()
            await outbox.consume(self.platform, self.name, self._handle, batch=1, start_at_end=True)
            self._ready.set()
            while True:
                while await outbox.consume(self.platform, self.name, self._handle,
                                           start_at_end=True) == outbox.BATCH:
                    pass
                wait = HELD_POLL if await outbox.held(self.platform, self.name) else POLL
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
        except asyncio.CancelledError:
            await asyncio.shield(self._forget())
            raise
        except Exception:
            log.exception("console live updates stopped; the next stream starts them again")
            self._ready.set()
            await self._forget()

    async def _sweep(self) -> None:
        """Drop the cursors that hubs of processes long gone left behind (a crash skips ``_forget``)."""
        async with self.platform.db.session() as session:
            await session.execute(text("DELETE FROM outbox_cursors WHERE name LIKE 'console.live.%' "
                                       "AND name != :name AND updated_at < :old"),
                                  {"name": self.name, "old": time.time() - STALE_CURSOR})
            await session.commit()

    async def _forget(self) -> None:
        with contextlib.suppress(Exception):
            async with self.platform.db.session() as session:
                await session.execute(text("DELETE FROM outbox_cursors WHERE name = :name"), {"name": self.name})
                await session.commit()


def _sse(event: str, data: object, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


@router.get("/events/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}})
async def stream(request: Request, user: UserDep) -> StreamingResponse:
    """Server-sent events of the caller's own audit events from now on: ``ready`` once, then a
    ``change`` per event (``{id, action, resource_type, resource_id, data, created_at}``) and ``reload``
    when the stream fell behind. Another user's events never appear here."""
    hub = Hub.of(request.app.state.platform)
    queue = await hub.subscribe(user.user_id)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 1000\n\n" + _sse("ready", {"user_id": user.user_id})
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event is None:
                    yield _sse("reload", {})
                else:
                    yield _sse("change", event, str(event["id"]))
        finally:
            hub.unsubscribe(user.user_id, queue)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

"""Queue event sources: a queue feeds a function in batches; messages are deleted only after success."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.core.errors import Conflict, CumuloError, not_found
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.functions import service
from cumulo.services.functions.models import EventSource, Function
from cumulo.services.functions.schemas import EventSourceIn, EventSourceOut
from cumulo.services.quotas import service as quotas

log = logging.getLogger("cumulo.functions.sources")
LOOP = "functions.sources"


def source_out(row: EventSource) -> EventSourceOut:
    return EventSourceOut(id=row.id, function_id=row.function_id, queue_id=row.queue_id, batch_size=row.batch_size,
                          enabled=row.enabled, created_at=aware(row.created_at))


async def create(platform: Platform, session: AsyncSession, user: Principal | str, ref: str,
                 body: EventSourceIn) -> EventSource:
    from cumulo.services.queues import service as queues

    fn = await service.find(session, user, ref)
    queue = await queues.resolve(session, fn.user_id, body.queue_id)
    await quotas.check(session, platform, fn.user_id, "function_event_sources")
    row = EventSource(function_id=fn.id, user_id=fn.user_id, queue_id=queue.id, batch_size=body.batch_size)
    session.add(row)
    events.record(session, user_id=fn.user_id, action="function.event_source_created", resource_type="function",
                  resource_id=fn.id, queue_id=queue.id, batch_size=body.batch_size)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(f"queue '{queue.name}' already feeds this function") from exc
    platform.runner.wake(LOOP)
    return row


async def list_sources(session: AsyncSession, user: Principal | str, ref: str) -> list[EventSource]:
    fn = await service.find(session, user, ref)
    return list((await session.scalars(select(EventSource).where(EventSource.function_id == fn.id)
                                       .order_by(EventSource.created_at))).all())


async def delete(session: AsyncSession, user: Principal | str, ref: str, source_id: str) -> None:
    fn = await service.find(session, user, ref)
    row = await session.get(EventSource, source_id)
    if row is None or row.function_id != fn.id:
        raise not_found("event source", source_id)
    await session.delete(row)
    events.record(session, user_id=fn.user_id, action="function.event_source_deleted", resource_type="function",
                  resource_id=fn.id, queue_id=row.queue_id)
    await session.commit()


async def _poll_one(platform: Platform, source_id: str) -> bool:
    """Feed one batch; True when messages were processed (so the loop polls again at once)."""
    from cumulo.services.functions import invoke as invocations
    from cumulo.services.queues import service as messages

    async with platform.db.session() as session:
        row = await session.get(EventSource, source_id)
        fn = await session.get(Function, row.function_id) if row else None
        if row is None or fn is None or not row.enabled:
            return False
        ver = await service.current_version(session, fn)
    try:
        batch = await messages.receive(platform, row.user_id, row.queue_id, max_messages=row.batch_size,
                                       wait_seconds=0, visibility_timeout=max(30, ver.timeout_seconds + 10))
    except CumuloError as exc:  # the queue was deleted: disable the source
        log.warning("event source %s: %s", source_id, exc.message)
        async with platform.db.session() as session:
            stale = await session.get(EventSource, source_id)
            if stale is not None and exc.status == 404:
                stale.enabled = False
                await session.commit()
        return False
    if not batch:
        return False
    event = {"Records": [{"messageId": m.message_id, "body": m.body, "attributes": m.attributes,
                          "receiptHandle": m.receipt_handle, "eventSource": "cumulo:queue",
                          "queueId": row.queue_id} for m in batch]}
    async with platform.db.session() as session:
        inv, _result = await invocations.invoke(platform, session, row.user_id, fn.id, event, source="queue")
    if inv.status == "SUCCESS":
        async with platform.db.session() as session:
            await messages.delete_batch(session, row.user_id, row.queue_id, [m.receipt_handle for m in batch])
    return True


def register_sources(platform: Platform) -> None:
    busy: set[str] = set()
    feeding: set[asyncio.Task[None]] = set()  # holds each running feed (the event loop keeps only weak references)

    async def feed(source_id: str) -> None:
        try:
            while await _poll_one(platform, source_id):
                pass
        except Exception:
            log.exception("event source %s failed", source_id)
        finally:
            busy.discard(source_id)

    async def tick() -> None:
        async with platform.db.session() as session:
            ids = (await session.scalars(select(EventSource.id).where(EventSource.enabled.is_(True)))).all()
        for source_id in ids:
            if source_id not in busy:
                busy.add(source_id)
                task = asyncio.get_running_loop().create_task(feed(source_id))
                feeding.add(task)
                task.add_done_callback(feeding.discard)

    platform.runner.every(LOOP, 1.0, tick)

"""Messages: send, receive (with long polling), delete, change visibility, purge, redrive.

Claiming is one atomic statement: on PostgreSQL ``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP
LOCKED)``, on SQLite ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` (SQLite runs one
writer at a time, so the statement is the claim). Each receive stamps a new nonce on the rows it
claims; a receipt handle is ``<message id>.<nonce>``, so only the latest handle matches.

Long polling: a receiver that finds nothing waits on a per-queue ``asyncio.Event`` that a send in
this process sets, and re-reads the database every ``POLL_SECONDS`` for sends made by other
processes and for messages whose delay or visibility timeout ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import InvalidInput, NotFound, PayloadTooLarge
from cumulo.core.ids import new_id, token
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.queues.lookup import resolve
from cumulo.services.queues.models import Message, Queue
from cumulo.services.queues.schemas import BatchFailure, DeleteBatchOut, MessageIn, ReceivedOut, SentOut

POLL_SECONDS = 0.5
T = Message.__table__


class Signals:
    """Per-queue wake-ups for long-polling receivers in this process."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def current(self, queue_id: str) -> asyncio.Event:
        event = self._events.get(queue_id)
        if event is None:
            event = self._events[queue_id] = asyncio.Event()
        return event

    def notify(self, queue_id: str) -> None:
        event = self._events.pop(queue_id, None)
        if event is not None:
            event.set()


def signals(platform: Platform) -> Signals:
    return platform.get_or_create("queues.signals", Signals)


def _size(item: MessageIn) -> int:
    size = len(item.body.encode())
    for key, value in (item.attributes or {}).items():
        size += len(key.encode()) + len(str(value).encode())
    return size


async def send(platform: Platform, session: AsyncSession, user_id: str, ref: str,
               items: list[MessageIn]) -> list[SentOut]:
    """Send 1-10 messages in one transaction: all are stored, or none."""
    queue = await resolve(session, user_id, ref)
    for i, item in enumerate(items):
        size = _size(item)
        if size > queue.max_message_size:
            where = f"message {i}: " if len(items) > 1 else ""
            raise PayloadTooLarge(f"{where}message is {size} bytes (body and attributes); queue '{queue.name}' "
                                  f"accepts at most {queue.max_message_size}")
    now = utcnow()
    expires = now + dt.timedelta(seconds=queue.retention_seconds)
    rows, out, immediate = [], [], False
    for item in items:
        delay = queue.delay_seconds if item.delay_seconds is None else item.delay_seconds
        immediate = immediate or delay == 0
        mid = new_id()
        rows.append({"id": mid, "queue_id": queue.id, "body": item.body, "attributes": item.attributes or {},
                     "visible_at": now + dt.timedelta(seconds=delay), "expires_at": expires, "receipt": None,
                     "received_count": 0, "first_received_at": None, "source_queue_id": None, "sent_at": now})
        out.append(SentOut(message_id=mid, md5_of_body=hashlib.md5(item.body.encode()).hexdigest(), sent_at=now))
    await session.execute(T.insert(), rows)
    await session.commit()
    if immediate:
        signals(platform).notify(queue.id)
    return out


async def deliver(platform: Platform, user_id: str, ref: str, body: str,
                  attributes: dict[str, Any] | None = None) -> str:
    """Put one message into one of ``user_id``'s queues (used by notify and cron)."""
    attrs = {k: v for k, v in (attributes or {}).items() if isinstance(v, (str, int, float, bool))}
    async with platform.db.session() as session:
        sent = await send(platform, session, user_id, ref, [MessageIn(body=body, attributes=attrs or None)])
    return sent[0].message_id


async def _move_to_dead_letter(session: AsyncSession, queue: Queue, now: dt.datetime, pg: bool) -> int:
    if not queue.dead_letter_queue_id or not queue.max_receive_count:
        return 0
    dlq = await session.get(Queue, queue.dead_letter_queue_id)
    if dlq is None:
        return 0
    pick = (select(T.c.id).where(T.c.queue_id == queue.id, T.c.visible_at <= now,
                                 T.c.received_count >= queue.max_receive_count).limit(100))
    if pg:
        pick = pick.with_for_update(skip_locked=True)
    result = await session.execute(
        update(T).where(T.c.id.in_(pick.scalar_subquery()))
        .values(queue_id=dlq.id, source_queue_id=queue.id, visible_at=now, receipt=None, received_count=0,
                first_received_at=None, expires_at=now + dt.timedelta(seconds=dlq.retention_seconds)))
    return result.rowcount or 0


async def _claim(platform: Platform, queue: Queue, count: int, visibility: int) -> list[ReceivedOut]:
    pg = platform.db.is_postgres
    now = utcnow()
    nonce = token(12)
    async with platform.db.session() as session:
        moved = await _move_to_dead_letter(session, queue, now, pg)
        pick = (select(T.c.id).where(T.c.queue_id == queue.id, T.c.visible_at <= now, T.c.expires_at > now)
                .order_by(T.c.visible_at).limit(count))
        values = dict(visible_at=now + dt.timedelta(seconds=visibility), receipt=nonce,
                      received_count=T.c.received_count + 1,
                      first_received_at=func.coalesce(T.c.first_received_at, now))
        cols = (T.c.id, T.c.body, T.c.attributes, T.c.received_count, T.c.first_received_at, T.c.sent_at)
        if pg:
            picked = pick.with_for_update(skip_locked=True).cte("picked")
            stmt = update(T).where(T.c.id == picked.c.id)
        else:
            stmt = update(T).where(T.c.id.in_(pick.scalar_subquery()))
        rows = (await session.execute(stmt.values(**values).returning(*cols))).all()
        await session.commit()
    if moved:
        signals(platform).notify(queue.dead_letter_queue_id or "")
    rows = sorted(rows, key=lambda r: aware(r.sent_at))
    return [ReceivedOut(message_id=r.id, body=r.body, attributes=r.attributes or {},
                        receipt_handle=f"{r.id}.{nonce}", received_count=r.received_count,
                        first_received_at=aware(r.first_received_at) or now, sent_at=aware(r.sent_at))
            for r in rows]


async def receive(platform: Platform, user_id: str, ref: str, *, max_messages: int = 1,
                  wait_seconds: int | None = None, visibility_timeout: int | None = None) -> list[ReceivedOut]:
    """Up to ``max_messages`` visible messages, waiting up to ``wait_seconds`` for the first one."""
    async with platform.db.session() as session:
        queue = await resolve(session, user_id, ref)
    wait = queue.receive_wait_seconds if wait_seconds is None else wait_seconds
    visibility = queue.visibility_timeout if visibility_timeout is None else visibility_timeout
    deadline = time.monotonic() + wait
    waker = signals(platform)
    while True:
        event = waker.current(queue.id)
        got = await _claim(platform, queue, max_messages, visibility)
        remaining = deadline - time.monotonic()
        if got or remaining <= 0:
            return got
        try:
            await asyncio.wait_for(event.wait(), timeout=min(remaining, POLL_SECONDS))
        except TimeoutError:
            pass


def _split(handle: str) -> tuple[str, str]:
    mid, _, nonce = handle.partition(".")
    if not mid or not nonce or len(mid) > 36 or len(nonce) > 40:
        raise InvalidInput("malformed receipt handle: use the receipt_handle of a received message")
    return mid, nonce


def _stale(handle: str) -> NotFound:
    return NotFound(f"receipt handle '{handle[:80]}' is not valid: the message was deleted or received again "
                    "(only the latest receipt handle works)")


async def delete_message(session: AsyncSession, user_id: str, ref: str, handle: str) -> None:
    queue = await resolve(session, user_id, ref)
    mid, nonce = _split(handle)
    result = await session.execute(delete(T).where(T.c.id == mid, T.c.queue_id == queue.id, T.c.receipt == nonce))
    await session.commit()
    if not result.rowcount:
        raise _stale(handle)


async def delete_batch(session: AsyncSession, user_id: str, ref: str, handles: list[str]) -> DeleteBatchOut:
    queue = await resolve(session, user_id, ref)
    deleted, failed = [], []
    for handle in handles:
        try:
            mid, nonce = _split(handle)
        except InvalidInput as exc:
            failed.append(BatchFailure(receipt_handle=handle[:200], code=exc.code, message=exc.message))
            continue
        result = await session.execute(delete(T).where(T.c.id == mid, T.c.queue_id == queue.id,
                                                       T.c.receipt == nonce))
        if result.rowcount:
            deleted.append(handle)
        else:
            failed.append(BatchFailure(receipt_handle=handle[:200], code="NOT_FOUND", message=_stale(handle).message))
    await session.commit()
    return DeleteBatchOut(deleted=deleted, failed=failed)


async def change_visibility(platform: Platform, session: AsyncSession, user_id: str, ref: str, handle: str,
                            timeout: int) -> None:
    """Restart the message's visibility timer from now (0 makes it visible at once)."""
    queue = await resolve(session, user_id, ref)
    mid, nonce = _split(handle)
    result = await session.execute(update(T).where(T.c.id == mid, T.c.queue_id == queue.id, T.c.receipt == nonce)
                                   .values(visible_at=utcnow() + dt.timedelta(seconds=timeout)))
    await session.commit()
    if not result.rowcount:
        raise _stale(handle)
    if timeout == 0:
        signals(platform).notify(queue.id)


async def purge(session: AsyncSession, user_id: str, ref: str) -> int:
    queue = await resolve(session, user_id, ref)
    result = await session.execute(delete(T).where(T.c.queue_id == queue.id))
    events.record(session, user_id=user_id, action="queue.purged", resource_type="queue", resource_id=queue.id,
                  count=result.rowcount or 0)
    await session.commit()
    return result.rowcount or 0


async def redrive(platform: Platform, session: AsyncSession, user_id: str, ref: str, destination: str | None,
                  limit: int | None) -> int:
    """Move messages out of a dead-letter queue: back where each came from, or to ``destination``."""
    dlq = await resolve(session, user_id, ref)
    target = await resolve(session, user_id, destination) if destination else None
    if target is not None and target.id == dlq.id:
        raise InvalidInput("destination must be another queue")
    query = select(Message).where(Message.queue_id == dlq.id)
    if target is None:
        query = query.where(Message.source_queue_id.is_not(None))
    if limit:
        query = query.limit(limit)
    messages = (await session.scalars(query)).all()
    queues = {q.id: q for q in await session.scalars(select(Queue).where(Queue.user_id == user_id))}
    now, moved, woken = utcnow(), 0, set()
    for msg in messages:
        dest = target or queues.get(msg.source_queue_id or "")
        if dest is None:
            continue
        msg.queue_id, msg.source_queue_id, msg.visible_at, msg.receipt = dest.id, None, now, None
        msg.received_count, msg.first_received_at = 0, None
        msg.expires_at = now + dt.timedelta(seconds=dest.retention_seconds)
        moved += 1
        woken.add(dest.id)
    events.record(session, user_id=user_id, action="queue.redriven", resource_type="queue", resource_id=dlq.id,
                  count=moved)
    await session.commit()
    for queue_id in woken:
        signals(platform).notify(queue_id)
    return moved

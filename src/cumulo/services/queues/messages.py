"""Messages: send, receive (with long polling), delete, change visibility, purge, redrive.

Send, receive and delete are one Core statement each on an autocommit connection (plus the
queue lookup for send and receive): a multi-row INSERT; ``UPDATE ... WHERE id IN (SELECT ...
LIMIT n) RETURNING``, whose subquery adds ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite runs one
writer at a time, so the statement is the claim there too); and one ``DELETE ... WHERE (id,
receipt) IN (...) RETURNING`` for a whole batch. Each receive stamps a new nonce on the rows it
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

from sqlalchemy import Row, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import InvalidInput, NotFound, PayloadTooLarge, not_found
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


# --- the hot path: Core statements on an autocommit connection -------------------------------------
#
# Each statement below is atomic on its own, so send, receive and delete need no transaction: on
# PostgreSQL every statement is one round trip (no BEGIN / COMMIT), with no ORM session or unit of
# work. SQLite and PostgreSQL run the same statements; only the claim adds SKIP LOCKED on PostgreSQL.

Q = Queue.__table__
QUEUE_COLUMNS = (Q.c.id, Q.c.name, Q.c.max_message_size, Q.c.retention_seconds, Q.c.delay_seconds,
                 Q.c.visibility_timeout, Q.c.receive_wait_seconds, Q.c.dead_letter_queue_id,
                 Q.c.max_receive_count)
FIND_QUEUE = (select(*QUEUE_COLUMNS)
              .where(Q.c.user_id == bindparam("user_id"), or_(Q.c.id == bindparam("ref"), Q.c.name == bindparam("ref")))
              .limit(3))
CLAIMED = (T.c.id, T.c.body, T.c.attributes, T.c.received_count, T.c.first_received_at, T.c.sent_at)


def connect(platform: Platform) -> AsyncConnection:
    """A pooled connection of this process's engine in autocommit mode (``async with``)."""
    engine = platform.get_or_create(
        "queues.autocommit", lambda: platform.db.engine.execution_options(isolation_level="AUTOCOMMIT"))
    return engine.connect()


async def find_queue(conn: AsyncConnection | AsyncSession, user_id: str, ref: str) -> Row[Any]:
    """The caller's queue by id or name, as a row of ``QUEUE_COLUMNS`` (same rules as ``resolve``)."""
    rows = (await conn.execute(FIND_QUEUE, {"user_id": user_id, "ref": ref})).all()
    for row in rows:
        if row.id == ref:
            return row
    if len(rows) == 1:
        return rows[0]
    if rows:
        raise InvalidInput(f"several queues are named '{ref}': use the id")
    raise not_found("queue", ref)


async def send(platform: Platform, user_id: str, ref: str, items: list[MessageIn]) -> list[SentOut]:
    """Send 1-10 messages with one multi-row INSERT: all are stored, or none."""
    async with connect(platform) as conn:
        queue = await find_queue(conn, user_id, ref)
        for i, item in enumerate(items):
            size = _size(item)
            if size > queue.max_message_size:
                where = f"message {i}: " if len(items) > 1 else ""
                raise PayloadTooLarge(f"{where}message is {size} bytes (body and attributes); queue "
                                      f"'{queue.name}' accepts at most {queue.max_message_size}")
        now = utcnow()
        expires = now + dt.timedelta(seconds=queue.retention_seconds)
        rows, out, immediate = [], [], False
        for item in items:
            delay = queue.delay_seconds if item.delay_seconds is None else item.delay_seconds
            immediate = immediate or delay == 0
            mid = new_id()
            rows.append({"id": mid, "queue_id": queue.id, "body": item.body, "attributes": item.attributes or {},
                         "visible_at": now + dt.timedelta(seconds=delay) if delay else now, "expires_at": expires,
                         "receipt": None, "received_count": 0, "first_received_at": None,
                         "source_queue_id": None, "sent_at": now})
            out.append(SentOut(message_id=mid, md5_of_body=hashlib.md5(item.body.encode()).hexdigest(),
                               sent_at=now))
        try:
            await conn.execute(T.insert().values(rows))
        except IntegrityError as exc:  # the queue was deleted since the lookup
            raise not_found("queue", ref) from exc
    if immediate:
        signals(platform).notify(queue.id)
    return out


async def deliver(platform: Platform, user_id: str, ref: str, body: str,
                  attributes: dict[str, Any] | None = None) -> str:
    """Put one message into one of ``user_id``'s queues (used by notify and cron)."""
    attrs = {k: v for k, v in (attributes or {}).items() if isinstance(v, (str, int, float, bool))}
    sent = await send(platform, user_id, ref, [MessageIn(body=body, attributes=attrs or None)])
    return sent[0].message_id


def _pick(queue_id: str, now: dt.datetime, count: int, pg: bool, *where: Any) -> Any:
    """Ids of up to ``count`` of the queue's messages that are visible now (skipping rows another
    receiver holds locked, on PostgreSQL), for ``... WHERE id IN (pick)``."""
    pick = (select(T.c.id).where(T.c.queue_id == queue_id, T.c.visible_at <= now, *where)
            .order_by(T.c.visible_at).limit(count))
    if pg:
        pick = pick.with_for_update(skip_locked=True)
    return pick.scalar_subquery()


async def _move_to_dead_letter(conn: AsyncConnection, queue: Row[Any], now: dt.datetime, pg: bool) -> int:
    if not queue.dead_letter_queue_id or not queue.max_receive_count:
        return 0
    retention = (await conn.execute(select(Q.c.retention_seconds).where(Q.c.id == queue.dead_letter_queue_id))
                 ).scalar()
    if retention is None:
        return 0
    pick = _pick(queue.id, now, 100, pg, T.c.received_count >= queue.max_receive_count)
    result = await conn.execute(
        update(T).where(T.c.id.in_(pick))
        .values(queue_id=queue.dead_letter_queue_id, source_queue_id=queue.id, visible_at=now, receipt=None,
                received_count=0, first_received_at=None, expires_at=now + dt.timedelta(seconds=retention)))
    return result.rowcount or 0


async def _claim(platform: Platform, queue: Row[Any], count: int, visibility: int) -> list[ReceivedOut]:
    """One UPDATE ... WHERE id IN (visible ids LIMIT n) RETURNING: the claim is the statement."""
    pg = platform.db.is_postgres
    now = utcnow()
    nonce = token(12)
    async with connect(platform) as conn:
        moved = await _move_to_dead_letter(conn, queue, now, pg)
        stmt = (update(T).where(T.c.id.in_(_pick(queue.id, now, count, pg, T.c.expires_at > now)))
                .values(visible_at=now + dt.timedelta(seconds=visibility), receipt=nonce,
                        received_count=T.c.received_count + 1,
                        first_received_at=func.coalesce(T.c.first_received_at, now))
                .returning(*CLAIMED))
        rows = (await conn.execute(stmt)).all()
    if moved:
        signals(platform).notify(queue.dead_letter_queue_id or "")
    rows.sort(key=lambda r: aware(r.sent_at))
    return [ReceivedOut(message_id=r.id, body=r.body, attributes=r.attributes or {},
                        receipt_handle=f"{r.id}.{nonce}", received_count=r.received_count,
                        first_received_at=aware(r.first_received_at) or now, sent_at=aware(r.sent_at))
            for r in rows]


async def receive(platform: Platform, user_id: str, ref: str, *, max_messages: int = 1,
                  wait_seconds: int | None = None, visibility_timeout: int | None = None) -> list[ReceivedOut]:
    """Up to ``max_messages`` visible messages, waiting up to ``wait_seconds`` for the first one."""
    async with connect(platform) as conn:
        queue = await find_queue(conn, user_id, ref)
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


async def _delete_handles(conn: AsyncConnection | AsyncSession, user_id: str, ref: str,
                          handles: list[str]) -> DeleteBatchOut:
    """One DELETE for every well-formed handle, scoped to the caller's queue by a subquery; the
    queue itself is looked up only when nothing was deleted (to tell a missing queue apart)."""
    parsed: list[tuple[str, tuple[str, str] | None, str]] = []
    for handle in handles:
        try:
            parsed.append((handle, _split(handle), ""))
        except InvalidInput as exc:
            parsed.append((handle, None, exc.message))
    pairs = [pair for _, pair, _ in parsed if pair is not None]
    gone: set[tuple[str, str]] = set()
    if pairs:
        owned = (select(Q.c.id).where(Q.c.user_id == user_id, or_(Q.c.id == ref, Q.c.name == ref))
                 .order_by((Q.c.id == ref).desc()).limit(1).scalar_subquery())
        result = await conn.execute(delete(T).where(T.c.queue_id == owned, tuple_(T.c.id, T.c.receipt).in_(pairs))
                                    .returning(T.c.id, T.c.receipt))
        gone = {(r[0], r[1]) for r in result}
    if not gone:
        await find_queue(conn, user_id, ref)  # 404 for a queue that is not the caller's
    deleted, failed = [], []
    for handle, pair, malformed in parsed:
        if pair is None:
            failed.append(BatchFailure(receipt_handle=handle[:200], code="INVALID_INPUT", message=malformed))
        elif pair in gone:
            deleted.append(handle)
        else:
            failed.append(BatchFailure(receipt_handle=handle[:200], code="NOT_FOUND", message=_stale(handle).message))
    return DeleteBatchOut(deleted=deleted, failed=failed)


async def delete_handles(platform: Platform, user_id: str, ref: str, handles: list[str]) -> DeleteBatchOut:
    async with connect(platform) as conn:
        return await _delete_handles(conn, user_id, ref, handles)


async def delete_message(platform: Platform, user_id: str, ref: str, handle: str) -> None:
    _split(handle)  # a malformed handle is 400, before any lookup
    if not (await delete_handles(platform, user_id, ref, [handle])).deleted:
        raise _stale(handle)


async def delete_batch(session: AsyncSession, user_id: str, ref: str, handles: list[str]) -> DeleteBatchOut:
    """``delete_handles`` inside the caller's session (used by function event sources)."""
    out = await _delete_handles(session, user_id, ref, handles)
    await session.commit()
    return out


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

"""Messages: send, receive (with long polling), delete, change visibility, purge, redrive.

The hot path (send, receive, delete) is one statement per step, from ``statements.py``, run by the
database's statement lane (``db.lane.rows``, ``cumulo.db.lane``) with no transaction around it: a multi-row INSERT; a claim ``UPDATE ... WHERE id IN
(visible ids, oldest first, LIMIT n) RETURNING``, whose subquery locks with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL (SQLite runs one writer at a time, so the statement is the claim there too);
and one ``DELETE ... RETURNING`` for a whole batch of receipt handles. The queue row a send or
receive needs comes from ``QueueCache`` (one API process) or one SELECT. Each receive stamps a new
nonce on the rows it claims; a receipt handle is ``<message id>.<nonce>``, so only the latest
handle matches. Change visibility, purge and redrive are rare and use an ORM session.

Long polling: a receiver that finds nothing waits for a wake-up of its queue (``signals.py``: set
by a send in this process, or on PostgreSQL in any process), and re-reads the database every
``CUMULO_QUEUE_POLL_SECONDS`` for messages whose delay or visibility timeout ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import InvalidInput, NotFound, PayloadTooLarge, not_found
from cumulo.core.ids import new_id, token
from cumulo.db.base import table
from cumulo.db.query import Query
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.queues import contents
from cumulo.services.queues import statements as sql
from cumulo.services.queues.lookup import resolve
from cumulo.services.queues.models import Message, Queue
from cumulo.services.queues.schemas import BatchFailure, DeleteBatchOut, MessageIn, ReceivedOut, SentOut
from cumulo.services.queues.signals import signals
from cumulo.services.queues.statements import QueueRow

QUEUE_CACHE_SECONDS = 2.0
T = table(Message)


def _size(item: MessageIn) -> int:
    size = len(item.body.encode())
    for key, value in (item.attributes or {}).items():
        size += len(key.encode()) + len(str(value).encode())
    return size


# --- the hot path: one prepared statement per step (see ``statements.py``) ---------------------------

async def _rows(platform: Platform | None, query: Query, params: dict[str, Any],
                on: AsyncSession | None = None) -> Sequence[Sequence[Any]]:
    """Rows of one hot-path statement: on the database's statement lane, or inside the session ``on``."""
    if on is not None:
        result = cast("CursorResult[Any]", await on.execute(query.statement, params))
        return result.all() if result.returns_rows else ()
    assert platform is not None
    return await platform.db.lane.rows(query, **params)


class QueueCache:
    """Queue rows looked up by the hot path, kept ``QUEUE_CACHE_SECONDS`` per (user, id or name),
    so a send or receive is one statement instead of two. Only with one API process (like the
    API key cache): the queue routes of this process evict a user's entries on every change, so
    a change is seen at once; the time limit bounds anything done outside them."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._users: dict[str, dict[str, tuple[QueueRow, float]]] = {}

    def get(self, user_id: str, ref: str) -> QueueRow | None:
        found = self._users.get(user_id, {}).get(ref)
        if found is not None and found[1] > time.monotonic():
            return found[0]
        return None

    def put(self, user_id: str, ref: str, row: QueueRow) -> None:
        if self.ttl > 0:
            if len(self._users) > 10_000:
                self._users.clear()
            self._users.setdefault(user_id, {})[ref] = (row, time.monotonic() + self.ttl)

    def forget(self, user_id: str) -> None:
        self._users.pop(user_id, None)


def queue_cache(platform: Platform) -> QueueCache:
    ttl = QUEUE_CACHE_SECONDS if platform.settings.api_processes <= 1 else 0.0
    return platform.get_or_create("queues.cache", lambda: QueueCache(ttl))


async def find_queue(platform: Platform | None, user_id: str, ref: str, on: AsyncSession | None = None) -> QueueRow:
    """The caller's queue by id or name (same rules as ``resolve``), as a ``QueueRow``."""
    cache = queue_cache(platform) if platform is not None else None
    if cache is not None and (row := cache.get(user_id, ref)) is not None:
        return row
    rows = await _rows(platform, sql.FIND_QUEUE, {"p_user": user_id, "p_ref": ref}, on)
    found = [QueueRow(*r) for r in rows if r[0] == ref] or [QueueRow(*r) for r in rows]
    if len(found) > 1:
        raise InvalidInput(f"several queues are named '{ref}': use the id")
    if not found:
        raise not_found("queue", ref)
    if cache is not None:
        cache.put(user_id, ref, found[0])
    return found[0]


async def send(platform: Platform, user_id: str, ref: str, items: list[MessageIn]) -> list[SentOut]:
    """Send 1-10 messages with one multi-row INSERT: all are stored, or none."""
    for i, item in enumerate(items):  # before anything is looked up or stored
        contents.check(item.body, item.attributes, f"message {i}: " if len(items) > 1 else "")
    queue = await find_queue(platform, user_id, ref)
    for i, item in enumerate(items):
        size = _size(item)
        if size > queue.max_message_size:
            where = f"message {i}: " if len(items) > 1 else ""
            raise PayloadTooLarge(f"{where}message is {size} bytes (body and attributes); queue '{queue.name}' "
                                  f"accepts at most {queue.max_message_size}")
    now = utcnow()
    params: dict[str, Any] = {"p_queue": queue.id, "p_now": now,
                              "p_expires": now + dt.timedelta(seconds=queue.retention_seconds)}
    out, immediate = [], False
    for k, item in enumerate(items):
        delay = queue.delay_seconds if item.delay_seconds is None else item.delay_seconds
        immediate = immediate or delay == 0
        mid = new_id()
        params[f"p_id{k}"], params[f"p_body{k}"] = mid, item.body
        params[f"p_attributes{k}"] = item.attributes or {}
        params[f"p_visible{k}"] = now + dt.timedelta(seconds=delay) if delay else now
        out.append(SentOut(message_id=mid, md5_of_body=hashlib.md5(item.body.encode()).hexdigest(), sent_at=now))
    try:
        await platform.db.lane.rows(sql.insert(len(items)), **params)
    except IntegrityError as exc:  # the queue was deleted since the lookup (foreign key)
        queue_cache(platform).forget(user_id)
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


async def _move_to_dead_letter(platform: Platform, queue: QueueRow, now: dt.datetime) -> int:
    if not queue.dead_letter_queue_id or not queue.max_receive_count:
        return 0
    lane = platform.db.lane
    found = await lane.rows(sql.RETENTION, p_queue=queue.dead_letter_queue_id)
    if not found:
        return 0
    moved = await lane.rows(sql.to_dead_letter(platform.db.is_postgres), p_queue=queue.id,
                            p_dlq=queue.dead_letter_queue_id, p_now=now, p_max=queue.max_receive_count,
                            p_expires=now + dt.timedelta(seconds=found[0][0]))
    return len(moved)


async def _claim(platform: Platform, queue: QueueRow, count: int, visibility: int) -> list[ReceivedOut]:
    now = utcnow()
    nonce = token(12)
    moved = await _move_to_dead_letter(platform, queue, now)
    rows = await platform.db.lane.rows(sql.claim(platform.db.is_postgres), p_queue=queue.id, p_now=now,
                                       p_count=count, p_until=now + dt.timedelta(seconds=visibility), p_nonce=nonce)
    if moved:
        signals(platform).notify(queue.dead_letter_queue_id or "")
    rows.sort(key=lambda r: _at(r[5], now))
    return [ReceivedOut(message_id=r[0], body=r[1], attributes=r[2] or {}, receipt_handle=f"{r[0]}.{nonce}",
                        received_count=r[3], first_received_at=_at(r[4], now), sent_at=_at(r[5], now))
            for r in rows]


def _at(value: dt.datetime | None, default: dt.datetime) -> dt.datetime:
    """A stored moment (naive on SQLite) as an aware one, ``default`` where there is none."""
    return aware(value) if value is not None else default


async def receive(platform: Platform, user_id: str, ref: str, *, max_messages: int = 1,
                  wait_seconds: int | None = None, visibility_timeout: int | None = None) -> list[ReceivedOut]:
    """Up to ``max_messages`` visible messages, waiting up to ``wait_seconds`` for the first one."""
    queue = await find_queue(platform, user_id, ref)
    wait = queue.receive_wait_seconds if wait_seconds is None else wait_seconds
    visibility = queue.visibility_timeout if visibility_timeout is None else visibility_timeout
    deadline = time.monotonic() + wait
    waker = signals(platform)
    poll = platform.settings.queue_poll_seconds
    while True:
        event = waker.current(queue.id)
        got = await _claim(platform, queue, max_messages, visibility)
        remaining = deadline - time.monotonic()
        if got or remaining <= 0:
            return got
        await waker.listen()
        try:
            await asyncio.wait_for(event.wait(), timeout=min(remaining, poll))
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


async def delete_handles(platform: Platform | None, user_id: str, ref: str, handles: list[str],
                         on: AsyncSession | None = None) -> DeleteBatchOut:
    """One DELETE for every well-formed handle, scoped to the caller's queue by a subquery; the
    queue itself is looked up only when nothing was deleted (to tell a missing queue apart)."""
    parsed: list[tuple[str, tuple[str, str] | None, str]] = []
    for handle in handles:
        try:
            parsed.append((handle, _split(handle), ""))
        except InvalidInput as exc:
            parsed.append((handle, None, exc.message))
    params: dict[str, Any] = {"p_user": user_id, "p_ref": ref}
    for k, (mid, nonce) in enumerate(pair for _, pair, _ in parsed if pair is not None):
        params[f"p_id{k}"], params[f"p_nonce{k}"] = mid, nonce
    n = (len(params) - 2) // 2
    gone = {(r[0], r[1]) for r in await _rows(platform, sql.delete_handles(n), params, on)} if n else set()
    if not gone:
        await find_queue(platform, user_id, ref, on)  # 404 for a queue that is not the caller's
    deleted, failed = [], []
    for handle, pair, malformed in parsed:
        if pair is None:
            failed.append(BatchFailure(receipt_handle=handle[:200], code="INVALID_INPUT", message=malformed))
        elif pair in gone:
            deleted.append(handle)
        else:
            failed.append(BatchFailure(receipt_handle=handle[:200], code="NOT_FOUND", message=_stale(handle).message))
    return DeleteBatchOut(deleted=deleted, failed=failed)


async def delete_message(platform: Platform, user_id: str, ref: str, handle: str) -> None:
    _split(handle)  # a malformed handle is 400, before any lookup
    if not (await delete_handles(platform, user_id, ref, [handle])).deleted:
        raise _stale(handle)


async def delete_batch(session: AsyncSession, user_id: str, ref: str, handles: list[str]) -> DeleteBatchOut:
    """``delete_handles`` inside the caller's session, committed (used by function event sources)."""
    out = await delete_handles(None, user_id, ref, handles, session)
    await session.commit()
    return out


async def change_visibility(platform: Platform, session: AsyncSession, user_id: str, ref: str, handle: str,
                            timeout: int) -> None:
    """Restart the message's visibility timer from now (0 makes it visible at once)."""
    queue = await resolve(session, user_id, ref)
    mid, nonce = _split(handle)
    result = cast("CursorResult[Any]", await session.execute(update(T).where(T.c.id == mid, T.c.queue_id == queue.id, T.c.receipt == nonce)
                                   .values(visible_at=utcnow() + dt.timedelta(seconds=timeout))))
    await session.commit()
    if not result.rowcount:
        raise _stale(handle)
    if timeout == 0:
        signals(platform).notify(queue.id)


async def purge(session: AsyncSession, user_id: str, ref: str) -> int:
    queue = await resolve(session, user_id, ref)
    result = cast("CursorResult[Any]", await session.execute(delete(T).where(T.c.queue_id == queue.id)))
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

"""Queue use cases: create, read, update, delete, stats. Message operations live in ``messages.py``
and are re-exported here, so other services only ever import ``cumulo.services.queues.service``."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import case, delete, func, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput
from cumulo.db.constraints import flush_or_conflict
from cumulo.services.events import service as events
from cumulo.services.queues.lookup import resolve
from cumulo.services.queues.messages import (
    change_visibility,
    delete_batch,
    delete_handles,
    delete_message,
    deliver,
    purge,
    receive,
    redrive,
    send,
)
from cumulo.services.queues.models import Message, Queue
from cumulo.services.queues.schemas import DeadLetterOut, QueueCreate, QueueOut, QueueUpdate, StatsOut
from cumulo.services.quotas import service as quotas

__all__ = [  # the public surface of this service (the message operations live in messages.py)
    "change_visibility",
    "create",
    "delete_batch",
    "delete_handles",
    "delete_message",
    "delete_queue",
    "deliver",
    "drop_expired",
    "list_queues",
    "purge",
    "queue_out",
    "receive",
    "redrive",
    "resolve",
    "send",
    "stats",
    "update",
]

DEFAULTS = {"visibility_timeout": 30, "retention_seconds": 4 * 24 * 3600, "max_message_size": 256 * 1024,
            "delay_seconds": 0, "receive_wait_seconds": 0}
ATTRS = tuple(DEFAULTS)


def queue_out(q: Queue) -> QueueOut:
    dlq = (DeadLetterOut(queue_id=q.dead_letter_queue_id, max_receive_count=q.max_receive_count or 1)
           if q.dead_letter_queue_id else None)
    return QueueOut(id=q.id, name=q.name, dead_letter=dlq, created_at=aware(q.created_at),
                    updated_at=aware(q.updated_at), **{a: getattr(q, a) for a in ATTRS})


async def _dead_letter_target(session: AsyncSession, user_id: str, ref: str, own_id: str | None) -> Queue:
    try:
        target = await resolve(session, user_id, ref)
    except Exception as exc:
        raise InvalidInput(f"dead_letter.queue_id: no queue '{ref}' of yours") from exc
    if target.id == own_id:
        raise InvalidInput("dead_letter.queue_id: a queue cannot be its own dead-letter queue")
    return target


async def create(session: AsyncSession, user_id: str, body: QueueCreate, *, platform: Any) -> Queue:
    if await session.scalar(select(Queue.id).where(Queue.user_id == user_id, Queue.name == body.name)):
        raise Conflict(f"you already have a queue named '{body.name}'")
    await quotas.check(session, platform, user_id, "queues")
    values = {a: (getattr(body, a) if getattr(body, a) is not None else DEFAULTS[a]) for a in ATTRS}
    queue = Queue(user_id=user_id, name=body.name, **values)
    if body.dead_letter:
        target = await _dead_letter_target(session, user_id, body.dead_letter.queue_id, None)
        queue.dead_letter_queue_id, queue.max_receive_count = target.id, body.dead_letter.max_receive_count
    session.add(queue)
    await flush_or_conflict(session, f"you already have a queue named '{body.name}'")
    events.record(session, user_id=user_id, action="queue.created", resource_type="queue",
                  resource_id=queue.id, name=queue.name)
    await session.commit()
    return queue


async def list_queues(session: AsyncSession, user_id: str) -> list[Queue]:
    return list((await session.scalars(select(Queue).where(Queue.user_id == user_id)
                                       .order_by(Queue.created_at, Queue.id))).all())


async def update(session: AsyncSession, user_id: str, ref: str, body: QueueUpdate) -> Queue:
    queue = await resolve(session, user_id, ref)
    changed = {}
    for attr in ATTRS:
        if attr in body.model_fields_set:
            value = getattr(body, attr)
            if value is None:
                raise InvalidInput(f"{attr} cannot be null")
            setattr(queue, attr, value)
            changed[attr] = value
    if "dead_letter" in body.model_fields_set:
        if body.dead_letter is None:
            queue.dead_letter_queue_id, queue.max_receive_count = None, None
        else:
            target = await _dead_letter_target(session, user_id, body.dead_letter.queue_id, queue.id)
            queue.dead_letter_queue_id, queue.max_receive_count = target.id, body.dead_letter.max_receive_count
        changed["dead_letter_queue_id"] = queue.dead_letter_queue_id
    queue.updated_at = utcnow()
    events.record(session, user_id=user_id, action="queue.updated", resource_type="queue",
                  resource_id=queue.id, **changed)
    await session.commit()
    return queue


async def delete_queue(session: AsyncSession, user_id: str, ref: str) -> None:
    queue = await resolve(session, user_id, ref)
    users = (await session.scalars(select(Queue.name).where(Queue.dead_letter_queue_id == queue.id))).all()
    if users:
        raise Conflict(f"queue '{queue.name}' is the dead-letter queue of {', '.join(sorted(users))}; "
                       "remove that redrive policy first")
    await session.execute(delete(Message).where(Message.queue_id == queue.id))
    await session.delete(queue)
    events.record(session, user_id=user_id, action="queue.deleted", resource_type="queue",
                  resource_id=queue.id, name=queue.name)
    await session.commit()


async def stats(session: AsyncSession, user_id: str, ref: str) -> StatsOut:
    queue = await resolve(session, user_id, ref)
    now = utcnow()
    m = Message
    row = (await session.execute(
        select(func.sum(case((m.visible_at <= now, 1), else_=0)),
               func.sum(case(((m.visible_at > now) & m.receipt.is_not(None), 1), else_=0)),
               func.sum(case(((m.visible_at > now) & m.receipt.is_(None), 1), else_=0)),
               func.min(m.sent_at))
        .where(m.queue_id == queue.id, m.expires_at > now))).one()
    visible, in_flight, delayed, oldest = (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), row[3])
    age = (now - aware(oldest)).total_seconds() if isinstance(oldest, dt.datetime) else None
    return StatsOut(queue_id=queue.id, visible=visible, in_flight=in_flight, delayed=delayed,
                    total=visible + in_flight + delayed, oldest_age_seconds=max(age, 0.0) if age is not None else None)


async def drop_expired(session: AsyncSession) -> int:
    """Retention: messages past their queue's retention period are gone for good."""
    result = cast("CursorResult[Any]", await session.execute(delete(Message).where(Message.expires_at <= utcnow())))
    await session.commit()
    return result.rowcount or 0

"""The hot path's statements, built once with named parameters (``p_*``) as prepared ``Query``s
(``cumulo.db.query``), so they compile once per dialect and stay prepared; the database's statement
lane runs them (``db.lane.rows``), each atomic on its own (no transaction around it). SQLite and
PostgreSQL share every statement; the only dialect difference is ``FOR UPDATE SKIP LOCKED`` on the
rows a receive or a dead-letter move picks, on PostgreSQL."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, delete, func, literal_column, null, or_, select, update

from cumulo.db.base import table
from cumulo.db.query import Query
from cumulo.services.queues.models import Message, Queue

Q = table(Queue)
T = table(Message)


def p(name: str, like: Any = None) -> Any:
    """A named parameter (typed like the column ``like`` where the context does not say)."""
    return bindparam(name, type_=like.type if like is not None else None)


class QueueRow(NamedTuple):
    id: str
    name: str
    max_message_size: int
    retention_seconds: int
    delay_seconds: int
    visibility_timeout: int
    receive_wait_seconds: int
    dead_letter_queue_id: str | None
    max_receive_count: int | None


FIND_QUEUE = Query(select(*(Q.c[name] for name in QueueRow._fields))
                   .where(Q.c.user_id == p("p_user"), or_(Q.c.id == p("p_ref"), Q.c.name == p("p_ref"))).limit(3))
"""The caller's queues whose id or name is ``p_ref`` (names are unique per user: at most two rows)."""

RETENTION = Query(select(Q.c.retention_seconds).where(Q.c.id == p("p_queue")))

CLAIMED = (T.c.id, T.c.body, T.c.attributes, T.c.received_count, T.c.first_received_at, T.c.sent_at)


@functools.cache
def insert(n: int) -> Query:
    """One INSERT of ``n`` messages (``p_id<k>``, ``p_body<k>``, ``p_attributes<k>``, ``p_visible<k>``)."""
    return Query(T.insert().values([
        {"id": p(f"p_id{k}", T.c.id), "queue_id": p("p_queue", T.c.queue_id), "body": p(f"p_body{k}", T.c.body),
         "attributes": p(f"p_attributes{k}", T.c.attributes), "visible_at": p(f"p_visible{k}", T.c.visible_at),
         "expires_at": p("p_expires", T.c.expires_at), "sent_at": p("p_now", T.c.sent_at),
         "received_count": literal_column("0"), "receipt": null(), "first_received_at": null(), "source_queue_id": null()}
        for k in range(n)]))


def _picked(pg: bool, limit: Any, *where: Any) -> Any:
    """``id`` is one of the queue's messages visible at ``p_now``, oldest first, at most ``limit``.

    On PostgreSQL rows another receiver holds are skipped, not waited for, and the ids come as
    ``id = ANY(ARRAY(subquery))``: the subquery runs once and the outer statement then reads the
    rows by primary key, whereas ``id IN (subquery)`` may be planned as a join that scans the
    whole table (a generic plan does not know the LIMIT)."""
    pick = (select(T.c.id).where(T.c.queue_id == p("p_queue"), T.c.visible_at <= p("p_now", T.c.visible_at), *where)
            .order_by(T.c.visible_at).limit(limit))
    if pg:
        return T.c.id == func.any(func.array(pick.with_for_update(skip_locked=True).scalar_subquery()))
    return T.c.id.in_(pick.scalar_subquery())


@functools.cache
def claim(pg: bool) -> Query:
    """Receive: up to ``p_count`` visible messages get the nonce ``p_nonce`` and stay invisible
    until ``p_until``; the statement is the claim (no two receivers get the same row)."""
    now = p("p_now", T.c.first_received_at)
    return Query(update(T).where(_picked(pg, p("p_count"), T.c.expires_at > now))
            .values(visible_at=p("p_until", T.c.visible_at), receipt=p("p_nonce", T.c.receipt),
                    received_count=T.c.received_count + 1, first_received_at=func.coalesce(T.c.first_received_at, now))
            .returning(*CLAIMED))


@functools.cache
def to_dead_letter(pg: bool) -> Query:
    """Up to 100 messages received ``p_max`` times or more move to the dead-letter queue ``p_dlq``."""
    return Query(update(T).where(_picked(pg, 100, T.c.received_count >= p("p_max", T.c.received_count)))
            .values(queue_id=p("p_dlq", T.c.queue_id), source_queue_id=p("p_queue", T.c.source_queue_id),
                    visible_at=p("p_now", T.c.visible_at), receipt=None, received_count=0, first_received_at=None,
                    expires_at=p("p_expires", T.c.expires_at))
            .returning(T.c.id))


@functools.cache
def delete_handles(n: int) -> Query:
    """Delete ``n`` messages by (``p_id<k>``, ``p_nonce<k>``) in the caller's queue ``p_ref``
    (id wins over name, as in ``find_queue``); returns the pairs deleted."""
    owned = (select(Q.c.id).where(Q.c.user_id == p("p_user"), or_(Q.c.id == p("p_ref"), Q.c.name == p("p_ref")))
             .order_by((Q.c.id == p("p_ref")).desc()).limit(1).scalar_subquery())
    ids = T.c.id.in_([p(f"p_id{k}") for k in range(n)])
    pairs = or_(*(and_(T.c.id == p(f"p_id{k}"), T.c.receipt == p(f"p_nonce{k}")) for k in range(n)))
    # ``queue_id || ''`` keeps the planner on the primary key: on a table without statistics yet (a
    # new database) it would otherwise walk the queue's whole index and filter
    return Query(delete(T).where(ids, pairs, T.c.queue_id.concat("") == owned).returning(T.c.id, T.c.receipt))

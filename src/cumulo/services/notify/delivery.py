"""The delivery loop: claim due deliveries, attempt them concurrently, record every attempt.

Claiming is one atomic statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) that also pushes
``next_attempt_at`` past a lease, so several workers never attempt the same delivery at once and
a delivery whose worker died comes due again. A failed attempt is retried with exponential
back-off and jitter; after ``max_attempts`` (or a permanent failure) it is dead-lettered into the
subscription's dead-letter queue when it has one. Everything lives in the database, so delivery
carries on after a restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import iso, utcnow
from cumulo.core.errors import CumuloError
from cumulo.db.base import table
from cumulo.platform import Platform
from cumulo.runtime.logs import redact
from cumulo.services.notify import protocols
from cumulo.services.notify.models import Attempt, Delivery, Publication, Subscription, Topic
from cumulo.services.notify.service import LOOP, signing_secret

log = logging.getLogger("cumulo.notify")
CAPACITY = 32
LEASE_MARGIN = 15.0
MAX_BACKOFF = 3600.0
D = table(Delivery)


def backoff(base: float, attempt: int) -> float:
    """Exponential back-off with jitter: between half and all of ``base * 2**(attempt-1)``."""
    delay = min(MAX_BACKOFF, base * 2.0 ** max(0, attempt - 1))
    return delay * random.uniform(0.5, 1.0)


class Dispatcher:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.inflight: dict[asyncio.Task[None], str] = {}  # task -> delivery id

    async def run_once(self) -> int:
        free = CAPACITY - len(self.inflight)
        if free <= 0:
            return 0
        claimed = await self._claim(free)
        for item in claimed:
            task = asyncio.create_task(self._attempt(*item))
            self.inflight[task] = item[0].id
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.inflight.pop(task, None)
        if not task.cancelled() and task.exception():
            log.error("delivery task failed", exc_info=task.exception())
        self.platform.runner.wake(LOOP)

    async def stop(self) -> None:
        """Cancel attempts in flight and give their leases back, so the next start (or another
        worker) retries them at once instead of after the lease; the cut attempt is not counted."""
        cut = dict(self.inflight)
        for task in cut:
            task.cancel()
        await asyncio.gather(*cut, return_exceptions=True)
        if not cut:
            return
        now = utcnow()
        async with self.platform.db.session() as session:
            await session.execute(update(D).where(D.c.id.in_(list(cut.values())), D.c.status == "pending",
                                                  D.c.next_attempt_at > now)
                                  .values(next_attempt_at=now, attempts=D.c.attempts - 1))
            await _commit_quietly(session)

    async def _claim(self, limit: int) -> list[tuple[Delivery, Subscription, Publication, str]]:
        now = utcnow()
        lease = now + dt.timedelta(seconds=60 + LEASE_MARGIN)
        pick = (select(D.c.id).where(D.c.status == "pending", D.c.next_attempt_at <= now)
                .order_by(D.c.next_attempt_at).limit(limit))
        async with self.platform.db.session() as session:
            if self.platform.db.is_postgres:
                picked = pick.with_for_update(skip_locked=True).cte("picked")
                stmt = update(D).where(D.c.id == picked.c.id)
            else:
                stmt = update(D).where(D.c.id.in_(pick.scalar_subquery()))
            ids = [r.id for r in (await session.execute(
                stmt.values(next_attempt_at=lease, attempts=D.c.attempts + 1).returning(D.c.id))).all()]
            await session.commit()
            if not ids:
                return []
            rows = (await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))).all()
            subs = {s.id: s for s in await session.scalars(
                select(Subscription).where(Subscription.id.in_({r.subscription_id for r in rows})))}
            pubs = {p.id: p for p in await session.scalars(
                select(Publication).where(Publication.id.in_({r.message_id for r in rows})))}
            topics = {t.id: t.name for t in await session.scalars(
                select(Topic).where(Topic.id.in_({s.topic_id for s in subs.values()})))}
        return [(r, subs[r.subscription_id], pubs[r.message_id], topics.get(subs[r.subscription_id].topic_id, ""))
                for r in rows if r.subscription_id in subs and r.message_id in pubs]

    async def _attempt(self, delivery: Delivery, sub: Subscription, pub: Publication, topic: str) -> None:
        protocol = protocols.get(sub.protocol)
        ctx = protocols.DeliveryContext(
            platform=self.platform, user_id=sub.user_id, subscription_id=sub.id, endpoint=sub.endpoint,
            topic_id=sub.topic_id, topic=topic, message_id=pub.id, message=pub.message, subject=pub.subject,
            attributes=pub.attributes or {}, timestamp=iso(pub.created_at) or "", attempt=delivery.attempts,
            timeout=sub.timeout_seconds, raw=sub.raw_message_delivery, secret=signing_secret(self.platform, sub))
        if protocol is None:
            result = protocols.Result(ok=False, error=f"protocol '{sub.protocol}' is not available", retry=False)
        else:
            try:
                result = await asyncio.wait_for(protocol.deliver(ctx), timeout=sub.timeout_seconds + 5)
            except TimeoutError:
                result = protocols.Result(ok=False, error=f"timed out after {sub.timeout_seconds:g} s")
            except CumuloError as exc:
                result = protocols.Result(ok=False, error=exc.message)
        await self._record(delivery, sub, ctx, result)

    async def _record(self, delivery: Delivery, sub: Subscription, ctx: protocols.DeliveryContext,
                      result: protocols.Result) -> None:
        now = utcnow()
        values: dict[str, object] = {"last_status_code": result.status_code, "last_error": (result.error or "")[:500]
                                     or None}
        if result.ok:
            values.update(status="delivered", finished_at=now)
        elif result.retry and delivery.attempts < sub.max_attempts:
            values.update(next_attempt_at=now + dt.timedelta(seconds=backoff(sub.retry_base_seconds,
                                                                              delivery.attempts)))
        else:
            values.update(status=await self._dead_letter(sub, ctx, result), finished_at=now)
        async with self.platform.db.session() as session:
            session.add(Attempt(delivery_id=delivery.id, number=delivery.attempts, status_code=result.status_code,
                                error=(result.error or "")[:500] or None, latency_ms=result.latency_ms, at=now))
            await session.execute(update(D).where(D.c.id == delivery.id).values(**values))
            await _commit_quietly(session)
        if "next_attempt_at" in values:
            log.info("delivery %s to %s failed (attempt %s): %s", delivery.id, sub.protocol, delivery.attempts,
                     redact(result.error or ""))

    async def _dead_letter(self, sub: Subscription, ctx: protocols.DeliveryContext,
                           result: protocols.Result) -> str:
        if not sub.dead_letter_queue_id:
            return "failed"
        from cumulo.services.queues import service as queues

        body = json.dumps({**ctx.envelope(), "error": result.error, "status_code": result.status_code,
                           "attempts": ctx.attempt, "endpoint": sub.endpoint}, separators=(",", ":"))
        try:
            await queues.deliver(self.platform, sub.user_id, sub.dead_letter_queue_id, body, ctx.attributes)
        except CumuloError as exc:
            log.warning("dead-letter queue of subscription %s refused the message: %s", sub.id, exc.message)
            return "failed"
        return "dead_lettered"


async def _commit_quietly(session: AsyncSession) -> None:
    """The subscription (and its deliveries) may have been deleted meanwhile: nothing to record then."""
    try:
        await session.commit()
    except Exception:  # noqa: BLE001
        await session.rollback()


async def prune(platform: Platform, older_than: dt.timedelta) -> None:
    """Forget finished deliveries and messages past the log's retention."""
    from sqlalchemy import delete, exists

    cutoff = utcnow() - older_than
    async with platform.db.session() as session:
        await session.execute(delete(Delivery).where(Delivery.status != "pending", Delivery.finished_at < cutoff))
        await session.execute(delete(Publication).where(
            Publication.created_at < cutoff, ~exists().where(Delivery.message_id == Publication.id)))
        await session.commit()


def dispatcher(platform: Platform) -> Dispatcher:
    if "notify.dispatcher" not in platform.extras:
        platform.extras["notify.dispatcher"] = d = Dispatcher(platform)
        platform.closers.append(d.stop)
    return platform.extras["notify.dispatcher"]  # type: ignore[no-any-return]


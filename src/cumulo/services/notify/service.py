"""Notify use cases: topics, subscriptions, publish, the delivery log.

Publishing stores the message and one ``pending`` delivery per matching subscription in one
transaction, then wakes the delivery loop (``delivery.py``): answered at once, delivered durably.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core import crypto
from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput, not_found
from cumulo.core.ids import new_id, token
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.notify import filters, protocols
from cumulo.services.notify.models import Attempt, Delivery, Publication, Subscription, Topic
from cumulo.services.notify.schemas import (
    AttemptOut,
    DeliveryOut,
    DeliveryPolicy,
    PublishIn,
    PublishOut,
    SubscriptionBase,
    SubscriptionCreatedOut,
    SubscriptionOut,
    TopicCreate,
    TopicOut,
)
from cumulo.services.quotas import service as quotas

LOOP = "notify.deliveries"


# --- topics ----------------------------------------------------------------------------------

async def resolve_topic(session: AsyncSession, user_id: str, ref: str) -> Topic:
    return await owned(session, Topic, user_id, ref, "topic")


async def topic_out(session: AsyncSession, topic: Topic) -> TopicOut:
    count = await session.scalar(select(func.count()).select_from(Subscription)
                                 .where(Subscription.topic_id == topic.id))
    return TopicOut(id=topic.id, name=topic.name, subscriptions=int(count or 0), created_at=aware(topic.created_at))


async def create_topic(session: AsyncSession, user_id: str, body: TopicCreate, *, platform: Any) -> Topic:
    if await session.scalar(select(Topic.id).where(Topic.user_id == user_id, Topic.name == body.name)):
        raise Conflict(f"you already have a topic named '{body.name}'")
    await quotas.check(session, platform, user_id, "topics")
    topic = Topic(user_id=user_id, name=body.name)
    session.add(topic)
    await flush_or_conflict(session, f"you already have a topic named '{body.name}'")
    events.record(session, user_id=user_id, action="topic.created", resource_type="topic", resource_id=topic.id,
                  name=topic.name)
    await session.commit()
    return topic


async def list_topics(session: AsyncSession, user_id: str) -> list[Topic]:
    return list((await session.scalars(select(Topic).where(Topic.user_id == user_id)
                                       .order_by(Topic.created_at, Topic.id))).all())


async def delete_topic(session: AsyncSession, user_id: str, ref: str) -> None:
    """Deleting a topic deletes its subscriptions and any delivery still pending."""
    topic = await resolve_topic(session, user_id, ref)
    await session.delete(topic)
    events.record(session, user_id=user_id, action="topic.deleted", resource_type="topic", resource_id=topic.id,
                  name=topic.name)
    await session.commit()


# --- subscriptions ---------------------------------------------------------------------------

def subscription_out(sub: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=sub.id, topic_id=sub.topic_id, protocol=sub.protocol, endpoint=sub.endpoint,
        filter_policy=sub.filter_policy, raw_message_delivery=sub.raw_message_delivery,
        delivery_policy=DeliveryPolicy(max_attempts=sub.max_attempts, retry_base_seconds=sub.retry_base_seconds,
                                       timeout_seconds=sub.timeout_seconds),
        dead_letter_queue_id=sub.dead_letter_queue_id, created_at=aware(sub.created_at))


async def get_subscription(session: AsyncSession, user_id: str, sub_id: str) -> Subscription:
    sub = await session.scalar(select(Subscription).where(Subscription.id == sub_id,
                                                          Subscription.user_id == user_id))
    if sub is None:
        raise not_found("subscription", sub_id)
    return sub


async def subscribe(platform: Platform, session: AsyncSession, user_id: str, topic_ref: str,
                    body: SubscriptionBase) -> SubscriptionCreatedOut:
    topic = await resolve_topic(session, user_id, topic_ref)
    protocol = protocols.get(body.protocol)
    if protocol is None:
        raise InvalidInput(f"unknown protocol '{body.protocol}': use one of {', '.join(protocols.names())}")
    endpoint = body.endpoint
    if protocol.validate is not None:
        endpoint = await protocol.validate(platform, session, user_id, body.endpoint)
    dlq_id = None
    if body.dead_letter_queue:
        from cumulo.services.queues import service as queues

        dlq_id = (await queues.resolve(session, user_id, body.dead_letter_queue)).id
    if await session.scalar(select(Subscription.id).where(Subscription.topic_id == topic.id,
                                                          Subscription.protocol == body.protocol,
                                                          Subscription.endpoint == endpoint)):
        raise Conflict("this topic already has a subscription with that protocol and endpoint")
    await quotas.check(session, platform, user_id, "subscriptions")
    secret = "whsec_" + token(24)
    sub_id = new_id()
    policy = body.delivery_policy
    sub = Subscription(id=sub_id, user_id=user_id, topic_id=topic.id, protocol=body.protocol, endpoint=endpoint,
                       filter_policy=body.filter_policy, raw_message_delivery=body.raw_message_delivery,
                       secret_sealed=crypto.seal(platform, secret.encode(), sub_id.encode()),
                       max_attempts=policy.max_attempts, retry_base_seconds=policy.retry_base_seconds,
                       timeout_seconds=policy.timeout_seconds, dead_letter_queue_id=dlq_id)
    session.add(sub)
    await flush_or_conflict(session, "this topic already has a subscription with that protocol and endpoint")
    events.record(session, user_id=user_id, action="subscription.created", resource_type="subscription",
                  resource_id=sub.id, topic_id=topic.id, protocol=sub.protocol)
    await session.commit()
    return SubscriptionCreatedOut(**subscription_out(sub).model_dump(), signing_secret=secret)


def signing_secret(platform: Platform, sub: Subscription) -> bytes:
    """The subscription's signing key (readable across a master-key rotation)."""
    return crypto.unseal(platform, sub.secret_sealed, sub.id.encode())


async def list_subscriptions(session: AsyncSession, user_id: str, topic_ref: str | None = None) -> list[Subscription]:
    query = select(Subscription).where(Subscription.user_id == user_id)
    if topic_ref:
        query = query.where(Subscription.topic_id == (await resolve_topic(session, user_id, topic_ref)).id)
    return list((await session.scalars(query.order_by(Subscription.created_at, Subscription.id))).all())


async def unsubscribe(session: AsyncSession, user_id: str, sub_id: str) -> None:
    sub = await get_subscription(session, user_id, sub_id)
    await session.delete(sub)
    events.record(session, user_id=user_id, action="subscription.deleted", resource_type="subscription",
                  resource_id=sub.id, topic_id=sub.topic_id)
    await session.commit()


# --- publish and the delivery log ------------------------------------------------------------

async def publish(platform: Platform, session: AsyncSession, user_id: str, topic_ref: str,
                  body: PublishIn) -> PublishOut:
    topic = await resolve_topic(session, user_id, topic_ref)
    attributes = body.attributes or {}
    subs = (await session.scalars(select(Subscription).where(Subscription.topic_id == topic.id))).all()
    pub = Publication(id=new_id(), user_id=user_id, topic_id=topic.id, subject=body.subject, message=body.message,
                      attributes=attributes)
    session.add(pub)
    now = utcnow()
    matched = [s for s in subs if filters.matches(s.filter_policy, attributes)]
    if matched:
        await session.flush()
    for sub in matched:
        session.add(Delivery(subscription_id=sub.id, message_id=pub.id, status="pending", attempts=0,
                             next_attempt_at=now, created_at=now))
    await session.commit()
    if matched:
        platform.runner.wake(LOOP)
    return PublishOut(message_id=pub.id, deliveries=len(matched))


async def deliveries(session: AsyncSession, user_id: str, sub_id: str, *, limit: int = 50,
                     status: str | None = None) -> list[DeliveryOut]:
    sub = await get_subscription(session, user_id, sub_id)
    query = select(Delivery).where(Delivery.subscription_id == sub.id)
    if status:
        query = query.where(Delivery.status == status)
    rows = (await session.scalars(query.order_by(Delivery.created_at.desc(), Delivery.id).limit(limit))).all()
    logs: dict[str, list[AttemptOut]] = {r.id: [] for r in rows}
    if rows:
        for a in (await session.scalars(select(Attempt).where(Attempt.delivery_id.in_(list(logs)))
                                        .order_by(Attempt.number))).all():
            logs[a.delivery_id].append(AttemptOut(attempt=a.number, status_code=a.status_code, error=a.error,
                                                  latency_ms=a.latency_ms, at=aware(a.at)))
    return [DeliveryOut(id=r.id, message_id=r.message_id, status=r.status, attempts=r.attempts,
                        last_status_code=r.last_status_code, last_error=r.last_error,
                        next_attempt_at=aware(r.next_attempt_at) if r.status == "pending" else None,
                        created_at=aware(r.created_at), finished_at=aware(r.finished_at), log=logs[r.id])
            for r in rows]

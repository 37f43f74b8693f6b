"""Notify HTTP routes: ``/topics`` and ``/subscriptions`` (seed paths); a topic is an id or a name."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.notify import service
from cumulo.services.notify.schemas import (
    DeliveryOut,
    PublishIn,
    PublishOut,
    SubscriptionBase,
    SubscriptionCreate,
    SubscriptionCreatedOut,
    SubscriptionOut,
    TopicCreate,
    TopicOut,
)

router = APIRouter(tags=["notify"])


@router.post("/topics", status_code=201, response_model=TopicOut)
async def create_topic(body: TopicCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> TopicOut:
    return await service.topic_out(session, await service.create_topic(session, user.user_id, body,
                                                                       platform=platform))


@router.get("/topics", response_model=list[TopicOut])
async def list_topics(user: UserDep, session: SessionDep) -> list[TopicOut]:
    return [await service.topic_out(session, t) for t in await service.list_topics(session, user.user_id)]


@router.get("/topics/{topic}", response_model=TopicOut)
async def get_topic(topic: str, user: UserDep, session: SessionDep) -> TopicOut:
    return await service.topic_out(session, await service.resolve_topic(session, user.user_id, topic))


@router.delete("/topics/{topic}", status_code=204)
async def delete_topic(topic: str, user: UserDep, session: SessionDep) -> Response:
    await service.delete_topic(session, user.user_id, topic)
    return Response(status_code=204)


@router.post("/topics/{topic}/publish", status_code=202, response_model=PublishOut)
async def publish(topic: str, body: PublishIn, user: UserDep, platform: PlatformDep,
                  session: SessionDep) -> PublishOut:
    """Store the message and answer at once; deliveries run in the background."""
    return await service.publish(platform, session, user.user_id, topic, body)


@router.get("/topics/{topic}/subscriptions", response_model=list[SubscriptionOut])
async def topic_subscriptions(topic: str, user: UserDep, session: SessionDep) -> list[SubscriptionOut]:
    return [service.subscription_out(s) for s in await service.list_subscriptions(session, user.user_id, topic)]


@router.post("/topics/{topic}/subscriptions", status_code=201, response_model=SubscriptionCreatedOut)
async def subscribe_topic(topic: str, body: SubscriptionBase, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> SubscriptionCreatedOut:
    return await service.subscribe(platform, session, user.user_id, topic, body)


@router.post("/subscriptions", status_code=201, response_model=SubscriptionCreatedOut)
async def subscribe(body: SubscriptionCreate, user: UserDep, platform: PlatformDep,
                    session: SessionDep) -> SubscriptionCreatedOut:
    """Subscribe to a topic; the answer carries the signing secret, shown only this once."""
    return await service.subscribe(platform, session, user.user_id, body.topic_id, body)


@router.get("/subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(user: UserDep, session: SessionDep,
                             topic_id: str | None = Query(None, max_length=256)) -> list[SubscriptionOut]:
    return [service.subscription_out(s) for s in await service.list_subscriptions(session, user.user_id, topic_id)]


@router.get("/subscriptions/{sub_id}", response_model=SubscriptionOut)
async def get_subscription(sub_id: str, user: UserDep, session: SessionDep) -> SubscriptionOut:
    return service.subscription_out(await service.get_subscription(session, user.user_id, sub_id))


@router.delete("/subscriptions/{sub_id}", status_code=204)
async def unsubscribe(sub_id: str, user: UserDep, session: SessionDep) -> Response:
    await service.unsubscribe(session, user.user_id, sub_id)
    return Response(status_code=204)


@router.get("/subscriptions/{sub_id}/deliveries", response_model=list[DeliveryOut])
async def deliveries(sub_id: str, user: UserDep, session: SessionDep, limit: int = Query(50, ge=1, le=500),
                     status: Literal["pending", "delivered", "failed", "dead_lettered"] | None = None,
                     ) -> list[DeliveryOut]:
    """The delivery log: each message's status and every attempt (status code, latency, error)."""
    return await service.deliveries(session, user.user_id, sub_id, limit=limit, status=status)

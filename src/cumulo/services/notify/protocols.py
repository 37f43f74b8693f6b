"""Delivery protocols, keyed by name: ``webhook`` and ``queue`` here; other services add theirs.

A protocol is two async functions: ``validate(platform, session, user_id, endpoint) -> endpoint``
(runs at subscribe time: raise ``InvalidInput``/``NotFound`` for a bad endpoint, return the form to
store) and ``deliver(ctx) -> Result`` (one attempt; never raise for an expected failure).
Register one from a service's ``hooks.py`` with ``cumulo.services.notify.protocols.register("function",
deliver, validate)`` (a ``cumulo.ports.Registry``: every ``hooks.py`` is imported before it is first read).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import CumuloError
from cumulo.drivers import http as outbound
from cumulo.platform import Platform
from cumulo.ports import Registry

SIGNATURE_HEADER = "X-Cumulo-Signature"


@dataclass(frozen=True)
class DeliveryContext:
    platform: Platform
    user_id: str
    subscription_id: str
    endpoint: str
    topic_id: str
    topic: str
    message_id: str
    message: str
    subject: str | None
    attributes: dict[str, Any]
    timestamp: str
    attempt: int
    timeout: float
    raw: bool
    secret: bytes = field(repr=False)

    def envelope(self) -> dict[str, Any]:
        return {"type": "Notification", "message_id": self.message_id, "topic_id": self.topic_id,
                "topic": self.topic, "subject": self.subject, "message": self.message,
                "attributes": self.attributes, "timestamp": self.timestamp,
                "subscription_id": self.subscription_id}

    def body(self) -> bytes:
        return self.message.encode() if self.raw else json.dumps(self.envelope(), separators=(",", ":")).encode()


@dataclass(frozen=True)
class Result:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    latency_ms: int = 0
    retry: bool = True  # False: a permanent failure, dead-letter at once


Deliver = Callable[[DeliveryContext], Awaitable[Result]]
Validate = Callable[[Platform, AsyncSession, str, str], Awaitable[str]]


@dataclass(frozen=True)
class Protocol:
    name: str
    deliver: Deliver
    validate: Validate | None = None


_PROTOCOLS: Registry[Protocol] = Registry("notify protocol")  # other services add theirs from their hooks.py


def register(name: str, deliver: Deliver, validate: Validate | None = None) -> None:
    _PROTOCOLS.add(name, Protocol(name, deliver, validate))


def get(name: str) -> Protocol | None:
    return _PROTOCOLS.get(name)


def names() -> list[str]:
    return _PROTOCOLS.names()


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def retryable(status: int | None) -> bool:
    """Network trouble, timeouts, 408, 429 and 5xx are retried; any other 4xx is final."""
    return status is None or status in (408, 429) or status >= 500


# --- webhook ---------------------------------------------------------------------------------

async def _validate_webhook(platform: Platform, _session: AsyncSession, _user_id: str, endpoint: str) -> str:
    await outbound.check(platform, endpoint)
    return endpoint


async def _deliver_webhook(ctx: DeliveryContext) -> Result:
    body = ctx.body()
    headers = {"Content-Type": "application/json" if not ctx.raw else "text/plain; charset=utf-8",
               "User-Agent": "Cumulo-Notify/1", SIGNATURE_HEADER: sign(ctx.secret, body),
               "X-Cumulo-Message-Id": ctx.message_id, "X-Cumulo-Subscription-Id": ctx.subscription_id,
               "X-Cumulo-Delivery-Attempt": str(ctx.attempt)}
    out = await outbound.request(outbound.pooled_client(ctx.platform), "POST", ctx.endpoint, headers=headers, content=body, timeout=ctx.timeout)
    error = out.error or (None if out.ok else f"HTTP {out.status_code}")
    return Result(ok=out.ok, status_code=out.status_code, error=error, latency_ms=out.latency_ms,
                  retry=not out.blocked and retryable(out.status_code))


# --- queue -----------------------------------------------------------------------------------

async def _validate_queue(_platform: Platform, session: AsyncSession, user_id: str, endpoint: str) -> str:
    from cumulo.services.queues import service as queues

    return (await queues.resolve(session, user_id, endpoint)).id


async def _deliver_queue(ctx: DeliveryContext) -> Result:
    from cumulo.services.queues import service as queues

    body = ctx.message if ctx.raw else json.dumps(ctx.envelope(), separators=(",", ":"))
    try:
        await queues.deliver(ctx.platform, ctx.user_id, ctx.endpoint, body, ctx.attributes)
    except CumuloError as exc:  # the queue is gone or refuses the message: retrying will not help
        return Result(ok=False, error=exc.message, retry=False)
    return Result(ok=True)


register("webhook", _deliver_webhook, _validate_webhook)
register("queue", _deliver_queue, _validate_queue)

"""What a cron job can call, keyed by target type: ``http``, ``queue`` and ``topic`` here; other
services add theirs from their ``hooks.py`` with ``cumulo.services.cron.targets.register("function", run,
validate)`` (a ``cumulo.ports.Registry``: every ``hooks.py`` is imported before it is first read).

``validate(platform, session, user_id, ref) -> ref`` runs when a job is saved (raise a 4xx error
for a bad target; return what to store, e.g. the resolved id) and ``run(ctx) -> Outcome`` makes
one attempt (never raise for an expected failure).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import CumuloError
from cumulo.drivers import http as outbound
from cumulo.platform import Platform
from cumulo.ports import Registry


@dataclass(frozen=True)
class RunContext:
    platform: Platform
    user_id: str
    job_id: str
    job_name: str
    target: str
    method: str
    headers: dict[str, str]
    payload: str | None
    timeout: float
    scheduled_at: str
    attempt: int


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry: bool = True


Run = Callable[[RunContext], Awaitable[Outcome]]
Validate = Callable[[Platform, AsyncSession, str, str], Awaitable[str]]


@dataclass(frozen=True)
class Target:
    kind: str
    run: Run
    validate: Validate | None = None


_TARGETS: Registry[Target] = Registry("cron target")  # other services add theirs from their hooks.py


def register(kind: str, run: Run, validate: Validate | None = None) -> None:
    _TARGETS.add(kind, Target(kind, run, validate))


def get(kind: str) -> Target | None:
    return _TARGETS.get(kind)


def kinds() -> list[str]:
    return _TARGETS.names()


def _default_payload(ctx: RunContext) -> str:
    return json.dumps({"job_id": ctx.job_id, "job": ctx.job_name, "scheduled_at": ctx.scheduled_at})


# --- http ------------------------------------------------------------------------------------

async def _validate_http(platform: Platform, _session: AsyncSession, _user_id: str, url: str) -> str:
    await outbound.check(platform, url)
    return url


async def _run_http(ctx: RunContext) -> Outcome:
    headers = {"User-Agent": "Cumulo-Cron/1", "X-Cumulo-Cron-Job": ctx.job_id,
               "X-Cumulo-Scheduled-At": ctx.scheduled_at}
    content = None
    if ctx.payload is not None and ctx.method not in ("GET", "HEAD"):
        content = ctx.payload.encode()
        try:
            json.loads(ctx.payload)
            headers["Content-Type"] = "application/json"
        except ValueError:
            headers["Content-Type"] = "text/plain; charset=utf-8"
    headers.update(ctx.headers)
    out = await outbound.request(outbound.pooled_client(ctx.platform), ctx.method, ctx.target,
                                 headers=headers, content=content, timeout=ctx.timeout)
    error = out.error or (None if out.ok else f"HTTP {out.status_code}")
    return Outcome(ok=out.ok, status_code=out.status_code, error=error, excerpt=out.excerpt or None,
                   retry=not out.blocked)


# --- queue and topic -------------------------------------------------------------------------

async def _validate_queue(_platform: Platform, session: AsyncSession, user_id: str, ref: str) -> str:
    from cumulo.services.queues import service as queues

    return (await queues.resolve(session, user_id, ref)).id


async def _run_queue(ctx: RunContext) -> Outcome:
    from cumulo.services.queues import service as queues

    try:
        mid = await queues.deliver(ctx.platform, ctx.user_id, ctx.target, ctx.payload or _default_payload(ctx),
                                   {"cron_job": ctx.job_id, "scheduled_at": ctx.scheduled_at})
    except CumuloError as exc:
        return Outcome(ok=False, error=exc.message, retry=False)
    return Outcome(ok=True, excerpt=f"message {mid}")


async def _validate_topic(_platform: Platform, session: AsyncSession, user_id: str, ref: str) -> str:
    from cumulo.services.notify import service as notify

    return (await notify.resolve_topic(session, user_id, ref)).id


async def _run_topic(ctx: RunContext) -> Outcome:
    from cumulo.services.notify import service as notify
    from cumulo.services.notify.schemas import PublishIn

    body = PublishIn(message=ctx.payload or _default_payload(ctx), subject=f"cron {ctx.job_name}",
                     attributes={"cron_job": ctx.job_id, "scheduled_at": ctx.scheduled_at})
    try:
        async with ctx.platform.db.session() as session:
            out = await notify.publish(ctx.platform, session, ctx.user_id, ctx.target, body)
    except CumuloError as exc:
        return Outcome(ok=False, error=exc.message, retry=False)
    return Outcome(ok=True, excerpt=f"message {out.message_id} to {out.deliveries} subscription(s)")


register("http", _run_http, _validate_http)
register("queue", _run_queue, _validate_queue)
register("topic", _run_topic, _validate_topic)

"""The ``function`` protocol of topic subscriptions and target of cron jobs (their registries
are in ``notify.protocols`` and ``cron.targets``). Each delivery is one sync invocation."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import CumuloError
from cumulo.platform import Platform
from cumulo.services.functions import invoke as invocations
from cumulo.services.functions import service


async def _validate(_platform: Platform, session: AsyncSession, user_id: str, ref: str) -> str:
    return (await service.find(session, user_id, ref)).id


async def _call(platform: Platform, user_id: str, function_id: str, event: Any, source: str) -> tuple[bool, str | None,
                                                                                                   str | None]:
    try:
        async with platform.db.session() as session:
            row, result = await invocations.invoke(platform, session, user_id, function_id, event, source=source)
    except CumuloError as exc:
        return False, exc.message, None
    if row.status == "SUCCESS":
        return True, None, json.dumps(result)[:500]
    return False, f"{(row.error or {}).get('type')}: {(row.error or {}).get('message')}"[:500], None


def register() -> None:
    from cumulo.services.cron import targets
    from cumulo.services.notify import protocols

    async def deliver(ctx: protocols.DeliveryContext) -> protocols.Result:
        ok, error, _excerpt = await _call(ctx.platform, ctx.user_id, ctx.endpoint, ctx.envelope(), "topic")
        return protocols.Result(ok=ok, error=error)

    async def run(ctx: targets.RunContext) -> targets.Outcome:
        try:
            payload = json.loads(ctx.payload) if ctx.payload else None
        except ValueError:
            payload = ctx.payload
        event = {"source": "cumulo.cron", "job_id": ctx.job_id, "job_name": ctx.job_name,
                 "scheduled_at": ctx.scheduled_at, "payload": payload}
        ok, error, excerpt = await _call(ctx.platform, ctx.user_id, ctx.target, event, "cron")
        return targets.Outcome(ok=ok, error=error, excerpt=excerpt)

    protocols.register("function", deliver, _validate)
    targets.register("function", run, _validate)

"""Invocations: sync (answer in the response), async (stored, run by a background loop with two
retries and an optional dead-letter queue), the invocation log, and the spec cache of the warm path."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import CumuloError, InvalidInput, PayloadTooLarge, not_found
from cumulo.core.ids import is_uuid, new_id
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.functions import code as codes
from cumulo.services.functions import runtimes, service
from cumulo.services.functions.models import Function, FunctionVersion, Invocation
from cumulo.services.functions.pool import Outcome, RunSpec, StartFailed
from cumulo.services.functions.schemas import InvocationOut, LogEntry

log = logging.getLogger("cumulo.functions")

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 256 * 1024
TAIL = 4096
LOOP = "functions.async"
MAX_IN_FLIGHT = 32


def invocation_out(row: Invocation, result: Any = None) -> InvocationOut:
    if result is None and row.result is not None:
        result = json.loads(row.result)
    return InvocationOut(id=row.id, function_id=row.function_id, version=row.version, status=row.status,
                         is_async=row.is_async, source=row.source, result=result, error=row.error,
                         duration_ms=row.duration_ms, cold_start=row.cold_start, attempts=row.attempts,
                         logs_tail=(row.logs or "")[-TAIL:], created_at=aware(row.created_at),
                         started_at=aware(row.started_at), ended_at=aware(row.ended_at))


def encode_payload(payload: Any, limit: int) -> str:
    try:
        text = json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"payload is not JSON: {exc}") from None
    if len(text) > limit:
        raise PayloadTooLarge(f"payload is larger than {limit} bytes")
    return text


# --- the warm path -------------------------------------------------------------------------

async def _spec(platform: Platform, fn: Function, ver: FunctionVersion) -> RunSpec:
    """What the pool needs to run this version; cached, so a warm call touches neither Docker nor disk."""
    cache: dict[tuple[str, int], RunSpec] = platform.get_or_create("functions.specs", dict)
    key = (fn.id, ver.version)
    if key in cache:
        return cache[key]
    family = "python" if ver.runtime.startswith("python") else "nodejs"
    runtime = await runtimes.resolve(platform, service.docker(platform), family)
    env, env_secrets, user_id = dict(ver.env or {}), dict(ver.env_secrets or {}), fn.user_id

    async def env_factory() -> dict[str, str]:
        if not env_secrets:
            return env
        from cumulo.services.secrets import service as secrets

        try:
            async with platform.db.session() as session:
                values = await secrets.resolve_env(session, user_id, env_secrets, platform=platform)
                await session.commit()
        except CumuloError as exc:
            raise StartFailed({"type": "Runtime.EnvSecretsFailed", "message": exc.message, "stack": []}) from None
        return {**env, **values}

    network = await service.vpc_network(platform, ver.vpc_id, fn.user_id) if ver.vpc_id else None
    spec = RunSpec(function_id=fn.id, name=fn.name, user_id=user_id, version=ver.version, runtime=runtime,
                   handler=ver.handler, timeout_seconds=ver.timeout_seconds, memory_mb=ver.memory_mb,
                   max_concurrency=ver.max_concurrency,
                   code_dir=codes.version_dir(platform.settings.data_dir, fn.id, ver.version),
                   env_factory=env_factory, network=network)
    cache[key] = spec
    return spec


def forget_specs(platform: Platform, function_id: str) -> None:
    cache: dict[tuple[str, int], RunSpec] = platform.get_or_create("functions.specs", dict)
    for key in [k for k in cache if k[0] == function_id]:
        cache.pop(key, None)


async def execute(platform: Platform, fn: Function, ver: FunctionVersion, payload: Any, invocation_id: str) -> Outcome:
    spec = await _spec(platform, fn, ver)
    return await service.pool(platform).invoke(spec, payload, invocation_id)


def _storable(text: str | None) -> str | None:
    """What the function printed may hold NUL characters, which PostgreSQL text cannot store."""
    return text.replace("\x00", "\ufffd") if text and "\x00" in text else text


def _fill(row: Invocation, outcome: Outcome, started: dt.datetime) -> None:
    row.status = "SUCCESS" if outcome.ok else "FAILED"
    row.result = _storable(outcome.result_json) if outcome.ok else None
    row.error = None if outcome.ok else outcome.error
    row.logs = _storable(outcome.logs) or ""
    row.duration_ms = round(outcome.duration_ms, 3)
    row.cold_start = outcome.cold_start
    row.started_at, row.ended_at = started, utcnow()


async def invoke(platform: Platform, session: AsyncSession, user: Principal | str, ref: str, payload: Any, *,
                 is_async: bool = False, source: str = "api") -> tuple[Invocation, Any]:
    """Run now and return (row, result), or queue an async call and return (PENDING row, None)."""
    fn, ver = await service.get(session, user, ref)
    if is_async:
        row = Invocation(function_id=fn.id, user_id=fn.user_id, version=ver.version, is_async=True, source=source,
                         status="PENDING", payload=encode_payload(payload, MAX_ASYNC_PAYLOAD), attempts=0,
                         next_attempt_at=utcnow(), logs="")
        session.add(row)
        await session.commit()
        platform.runner.wake(LOOP)
        return row, None
    encode_payload(payload, MAX_SYNC_PAYLOAD)
    row = Invocation(id=new_id(), function_id=fn.id, user_id=fn.user_id, version=ver.version, is_async=False,
                     source=source, attempts=1)
    started = utcnow()
    outcome = await execute(platform, fn, ver, payload, row.id)
    _fill(row, outcome, started)
    session.add(row)
    await session.commit()
    result = json.loads(outcome.result_json) if outcome.ok and outcome.result_json else None
    return row, result


async def get_invocation(session: AsyncSession, user: Principal | str, ref: str, invocation_id: str) -> Invocation:
    fn = await service.find(session, user, ref)
    row = await session.get(Invocation, invocation_id) if is_uuid(invocation_id) else None
    if row is None or row.function_id != fn.id:
        raise not_found("invocation", invocation_id)
    return row


async def list_invocations(session: AsyncSession, user: Principal | str, ref: str, *, limit: int = 50,
                           since: dt.datetime | None = None) -> list[Invocation]:
    """The latest invocations (newest first), or those finished after ``since`` (oldest first, for --follow)."""
    fn = await service.find(session, user, ref)
    query = select(Invocation).where(Invocation.function_id == fn.id)
    if since is not None:
        query = query.where(Invocation.ended_at > since).order_by(Invocation.ended_at, Invocation.id)
    else:
        query = query.order_by(Invocation.created_at.desc(), Invocation.id)
    return list((await session.scalars(query.limit(limit))).all())


def log_entry(row: Invocation) -> LogEntry:
    return LogEntry(invocation_id=row.id, version=row.version, status=row.status, source=row.source,
                    duration_ms=row.duration_ms, logs=row.logs or "", error=row.error,
                    created_at=aware(row.created_at), ended_at=aware(row.ended_at))


# --- async invocations -----------------------------------------------------------------------

def register_async(platform: Platform) -> None:
    running: set[asyncio.Task[None]] = set()

    async def tick() -> None:
        await _requeue_stuck(platform)
        free = MAX_IN_FLIGHT - len(running)
        if free <= 0:
            return
        for row_id in await _claim(platform, free):
            task = asyncio.create_task(_run_async(platform, row_id))
            running.add(task)
            task.add_done_callback(running.discard)

    platform.runner.every(LOOP, 1.0, tick)


async def _claim(platform: Platform, limit: int) -> list[str]:
    async with platform.db.session() as session:
        due = (await session.scalars(select(Invocation.id).where(
            Invocation.status == "PENDING", Invocation.next_attempt_at <= utcnow())
            .order_by(Invocation.next_attempt_at).limit(limit))).all()
        claimed = []
        for row_id in due:
            # an UPDATE/DELETE runs as a CursorResult (execute() is typed as returning any Result)
            result = cast("CursorResult[Any]", await session.execute(update(Invocation).where(
                Invocation.id == row_id, Invocation.status == "PENDING").values(status="RUNNING",
                                                                              started_at=utcnow())))
            if result.rowcount:
                claimed.append(row_id)
        await session.commit()
    return claimed


async def _requeue_stuck(platform: Platform) -> None:
    """RUNNING rows left behind by a crashed process go back to PENDING (their attempt counts)."""
    async with platform.db.session() as session:
        limit = utcnow() - dt.timedelta(seconds=900 + 120)
        await session.execute(update(Invocation).where(
            Invocation.status == "RUNNING", Invocation.is_async.is_(True), Invocation.started_at < limit)
            .values(status="PENDING", next_attempt_at=utcnow(), attempts=Invocation.attempts + 1))
        await session.commit()


async def _run_async(platform: Platform, row_id: str) -> None:
    async with platform.db.session() as session:
        row = await session.get(Invocation, row_id)
        if row is None:
            return
        fn = await session.get(Function, row.function_id)
        ver = await session.scalar(select(FunctionVersion).where(
            FunctionVersion.function_id == row.function_id, FunctionVersion.version == (fn.version if fn else 0)))
        if fn is None or ver is None:
            return
        started = utcnow()
        try:
            outcome = await execute(platform, fn, ver, json.loads(row.payload or "null"), row.id)
        except CumuloError as exc:  # e.g. Docker unavailable or throttled: counts as a failed attempt
            outcome = Outcome(False, error={"type": f"Platform.{exc.code}", "message": exc.message, "stack": []})
        row.attempts += 1
        _fill(row, outcome, started)
        retries = platform.settings.function_async_retries
        if not outcome.ok and row.attempts <= retries:
            row.status = "PENDING"
            row.next_attempt_at = utcnow() + dt.timedelta(seconds=row.attempts)
        await session.commit()
        if row.status == "PENDING":
            return
        if row.status == "FAILED" and ver.dead_letter_queue_id:
            await _dead_letter(platform, fn, ver, row)


async def _dead_letter(platform: Platform, fn: Function, ver: FunctionVersion, row: Invocation) -> None:
    from cumulo.services.queues import service as queues

    body = json.dumps({"invocation_id": row.id, "function_id": fn.id, "function_name": fn.name,
                       "version": row.version, "attempts": row.attempts, "error": row.error,
                       "payload": json.loads(row.payload or "null")})
    try:
        await queues.deliver(platform, fn.user_id, ver.dead_letter_queue_id or "", body,
                      {"function": fn.name, "invocation_id": row.id})
    except CumuloError as exc:
        log.warning("dead-letter delivery of invocation %s failed: %s", row.id, exc.message)

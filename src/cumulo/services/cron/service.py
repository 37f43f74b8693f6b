"""Cron use cases: jobs (create, read, update, delete, pause, resume, run now) and run history.

Executing runs and the scheduling claim live in ``scheduler.py``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.services.cron import scheduler, targets
from cumulo.services.cron.models import CronJob, CronRun
from cumulo.services.cron.schedule import next_run
from cumulo.services.cron.schemas import JobCreate, JobFields, JobOut, JobUpdate, RunOut
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas

LOOP = "cron.scheduler"
DEFAULTS = {"timezone": "UTC", "method": "POST", "timeout_seconds": 30, "retries": 0, "missed_runs": "run_once"}
_SENSITIVE = ("authorization", "cookie", "key", "token", "secret", "password")


def _masked(headers: dict[str, str]) -> dict[str, str]:
    """Header values that look like credentials are never shown back."""
    return {k: ("***" if any(w in k.lower() for w in _SENSITIVE) else v) for k, v in headers.items()}


def job_out(job: CronJob) -> JobOut:
    is_url = job.target_type == "http"
    return JobOut(id=job.id, name=job.name, schedule=job.schedule, timezone=job.timezone,
                  target_type=job.target_type, target_url=job.target if is_url else None,
                  target_id=None if is_url else job.target, method=job.method, headers=_masked(job.headers or {}),
                  payload=job.payload, timeout_seconds=job.timeout_seconds, retries=job.retries,
                  missed_runs=job.missed_runs, status=job.status, next_run_at=aware(job.next_run_at),
                  last_run_at=aware(job.last_run_at), created_at=aware(job.created_at),
                  updated_at=aware(job.updated_at))


def run_out(run: CronRun) -> RunOut:
    return RunOut(id=run.id, job_id=run.job_id, trigger=run.trigger, scheduled_at=aware(run.scheduled_at),
                  started_at=aware(run.started_at), finished_at=aware(run.finished_at),
                  duration_ms=run.duration_ms, status=run.status, attempts=run.attempts,
                  status_code=run.status_code, error=run.error, response_excerpt=run.response_excerpt)


async def resolve(session: AsyncSession, user_id: str, ref: str) -> CronJob:
    return await owned(session, CronJob, user_id, ref, "cron job")


async def _apply_target(platform: Platform, session: AsyncSession, user_id: str, job: CronJob,
                        body: JobFields) -> None:
    kind = body.target_type or ("http" if body.target_url else job.target_type)
    if not kind:
        raise InvalidInput("give target_url (an HTTP URL) or target_type with target_id")
    target = targets.get(kind)
    if target is None:
        raise InvalidInput(f"unknown target_type '{kind}': use one of {', '.join(targets.kinds())}")
    ref = body.target_url if kind == "http" else body.target_id
    if ref is None and kind == job.target_type:
        ref = job.target  # the target is unchanged
    if not ref:
        raise InvalidInput("target_url is required for http targets" if kind == "http"
                           else f"target_id is required for {kind} targets")
    job.target_type = kind
    job.target = await target.validate(platform, session, user_id, ref) if target.validate else ref


async def create(platform: Platform, session: AsyncSession, user_id: str, body: JobCreate) -> CronJob:
    if await session.scalar(select(CronJob.id).where(CronJob.user_id == user_id, CronJob.name == body.name)):
        raise Conflict(f"you already have a cron job named '{body.name}'")
    now = utcnow()
    job = CronJob(user_id=user_id, name=body.name, schedule=body.schedule, target_type="", target="",
                  headers=body.headers or {}, payload=body.payload, status="ACTIVE", created_at=now,
                  updated_at=now, version=0,
                  **{k: getattr(body, k) if getattr(body, k) is not None else v for k, v in DEFAULTS.items()})
    await _apply_target(platform, session, user_id, job, body)
    job.next_run_at = next_run(job, now)
    await quotas.check(session, platform, user_id, "cron_jobs")  # after the target's checks (DNS): held to commit
    session.add(job)
    await flush_or_conflict(session, f"you already have a cron job named '{body.name}'")
    events.record(session, user_id=user_id, action="cron.created", resource_type="cron_job", resource_id=job.id,
                  name=job.name, schedule=job.schedule, target_type=job.target_type)
    await session.commit()
    platform.runner.wake(LOOP)
    return job


async def list_jobs(session: AsyncSession, user_id: str) -> list[CronJob]:
    return list((await session.scalars(select(CronJob).where(CronJob.user_id == user_id)
                                       .order_by(CronJob.created_at, CronJob.id))).all())


async def update(platform: Platform, session: AsyncSession, user_id: str, ref: str, body: JobUpdate) -> CronJob:
    job = await resolve(session, user_id, ref)
    sent = body.model_fields_set
    for field in ("schedule", "timezone", "method", "timeout_seconds", "retries", "missed_runs", "headers"):
        if field in sent:
            value = getattr(body, field)
            if value is None:
                raise InvalidInput(f"{field} cannot be null")
            setattr(job, field, value)
    if "payload" in sent:
        job.payload = body.payload
    if sent & {"target_type", "target_url", "target_id"}:
        await _apply_target(platform, session, user_id, job, body)
    if job.status == "ACTIVE" and sent & {"schedule", "timezone"}:
        job.next_run_at = next_run(job, utcnow())
    job.updated_at, job.version = utcnow(), job.version + 1
    events.record(session, user_id=user_id, action="cron.updated", resource_type="cron_job", resource_id=job.id,
                  fields=sorted(sent))
    await session.commit()
    platform.runner.wake(LOOP)
    return job


async def delete(session: AsyncSession, user_id: str, ref: str) -> None:
    job = await resolve(session, user_id, ref)
    await session.delete(job)
    events.record(session, user_id=user_id, action="cron.deleted", resource_type="cron_job", resource_id=job.id,
                  name=job.name)
    await session.commit()


async def set_paused(platform: Platform, session: AsyncSession, user_id: str, ref: str, paused: bool) -> CronJob:
    """Pause clears next_run_at; resume schedules from now (times missed while paused are not run)."""
    job = await resolve(session, user_id, ref)
    if paused and job.status != "PAUSED":
        job.status, job.next_run_at = "PAUSED", None
    elif not paused and job.status != "ACTIVE":
        job.status, job.next_run_at = "ACTIVE", next_run(job, utcnow())
    job.updated_at, job.version = utcnow(), job.version + 1
    events.record(session, user_id=user_id, action="cron.paused" if paused else "cron.resumed",
                  resource_type="cron_job", resource_id=job.id)
    await session.commit()
    platform.runner.wake(LOOP)
    return job


async def runs(session: AsyncSession, user_id: str, ref: str, limit: int = 50) -> list[CronRun]:
    job = await resolve(session, user_id, ref)
    return list((await session.scalars(select(CronRun).where(CronRun.job_id == job.id)
                                       .order_by(CronRun.started_at.desc(), CronRun.id).limit(limit))).all())


async def trigger(platform: Platform, session: AsyncSession, user_id: str, ref: str) -> CronRun:
    """Run the job now, once, outside its schedule; answers with the run (status ``running``)."""
    job = await resolve(session, user_id, ref)
    now = utcnow()
    run = CronRun(job_id=job.id, trigger="manual", scheduled_at=now, started_at=now, status="running", attempts=0)
    session.add(run)
    events.record(session, user_id=user_id, action="cron.triggered", resource_type="cron_job", resource_id=job.id)
    await session.commit()
    scheduler.start_run(platform, job, run)
    return run

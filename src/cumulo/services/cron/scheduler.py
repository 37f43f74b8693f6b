"""The scheduler: claim due jobs exactly once, run them, record the outcome.

A tick selects ACTIVE jobs whose ``next_run_at`` has come. For each it moves ``next_run_at`` to
the next fire time with a compare-and-set on a version counter (``... WHERE id = :id AND version = :seen``) and
inserts the run row in the same transaction; only the worker whose update matched runs the job,
so several workers never start one scheduled time twice, and a slow run never blocks or repeats
the next one. A scheduled time more than ``MISSED_AFTER`` late (the server was down) is run once
(``missed_runs: run_once``) or skipped (``skip``); either way the schedule continues from now.
Runs left ``running`` by a worker that died are marked failed by ``reap``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError

from cumulo.core.clock import aware, iso, utcnow
from cumulo.db.base import table
from cumulo.platform import Platform
from cumulo.services.cron import targets
from cumulo.services.cron.models import CronJob, CronRun
from cumulo.services.cron.schedule import next_run

log = logging.getLogger("cumulo.cron")
MISSED_AFTER = 60.0
BATCH = 100
J = table(CronJob)


def _tasks(platform: Platform) -> set[asyncio.Task[None]]:
    if "cron.tasks" not in platform.extras:
        tasks: set[asyncio.Task[None]] = set()
        platform.extras["cron.tasks"] = tasks

        async def cancel() -> None:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        platform.closers.append(cancel)
    return platform.extras["cron.tasks"]  # type: ignore[no-any-return]


def start_run(platform: Platform, job: CronJob, run: CronRun) -> None:
    tasks = _tasks(platform)
    task = asyncio.create_task(execute(platform, job, run), name=f"cron-run-{run.id}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def tick(platform: Platform) -> int:
    """Claim and start every due job; returns how many runs were started."""
    now = utcnow()
    async with platform.db.session() as session:
        due = (await session.scalars(select(CronJob).where(CronJob.status == "ACTIVE", CronJob.next_run_at <= now)
                                     .order_by(CronJob.next_run_at).limit(BATCH))).all()
    started = 0
    for job in due:
        scheduled = aware(job.next_run_at)
        assert scheduled is not None
        late = (now - scheduled).total_seconds() > MISSED_AFTER
        run = None
        if not late or job.missed_runs == "run_once":
            run = CronRun(job_id=job.id, trigger="schedule", scheduled_at=scheduled, started_at=utcnow(),
                          status="running", attempts=0)
        async with platform.db.session() as session:
            # an UPDATE/DELETE runs as a CursorResult (execute() is typed as returning any Result)
            claimed = cast("CursorResult[Any]", await session.execute(
                update(J).where(J.c.id == job.id, J.c.status == "ACTIVE", J.c.version == job.version)
                .values(next_run_at=next_run(job, now), version=job.version + 1,
                        last_run_at=scheduled if run else J.c.last_run_at)))
            if not claimed.rowcount:
                await session.rollback()
                continue  # another worker claimed this time, or the job changed meanwhile
            if run is not None:
                session.add(run)
            try:
                await session.commit()
            except IntegrityError:  # this scheduled time already has a run
                await session.rollback()
                continue
        if run is not None:
            start_run(platform, job, run)
            started += 1
        else:
            log.info("cron job %s: skipped the run missed at %s", job.id, iso(scheduled))
    return started


async def execute(platform: Platform, job: CronJob, run: CronRun) -> None:
    target = targets.get(job.target_type)
    start = time.monotonic()
    outcome = targets.Outcome(ok=False, error=f"target type '{job.target_type}' is not available", retry=False)
    attempts = 0
    while target is not None:
        attempts += 1
        ctx = targets.RunContext(platform=platform, user_id=job.user_id, job_id=job.id, job_name=job.name,
                                 target=job.target, method=job.method, headers=dict(job.headers or {}),
                                 payload=job.payload, timeout=float(job.timeout_seconds),
                                 scheduled_at=iso(run.scheduled_at) or "", attempt=attempts)
        try:
            outcome = await asyncio.wait_for(target.run(ctx), timeout=job.timeout_seconds + 5)
        except TimeoutError:
            outcome = targets.Outcome(ok=False, error=f"timed out after {job.timeout_seconds} s")
        except Exception as exc:
            log.exception("cron target %s failed", job.target_type)
            outcome = targets.Outcome(ok=False, error=f"{exc.__class__.__name__}", retry=False)
        if outcome.ok or not outcome.retry or attempts > job.retries:
            break
        await asyncio.sleep(min(30.0, 2 ** (attempts - 1)))
    finished = utcnow()
    async with platform.db.session() as session:
        await session.execute(update(CronRun).where(CronRun.id == run.id).values(
            status="succeeded" if outcome.ok else "failed", attempts=attempts, finished_at=finished,
            duration_ms=int((time.monotonic() - start) * 1000), status_code=outcome.status_code,
            error=(outcome.error or "")[:500] or None, response_excerpt=outcome.excerpt))
        await session.commit()


async def reap(platform: Platform) -> int:
    """Runs still ``running`` long after they must have ended belong to a worker that died."""
    now = utcnow()
    async with platform.db.session() as session:
        rows = (await session.execute(
            select(CronRun, CronJob.timeout_seconds, CronJob.retries).join(CronJob, CronJob.id == CronRun.job_id)
            .where(CronRun.status == "running", CronRun.started_at < now - dt.timedelta(seconds=60)))).all()
        stale = [r.id for r, timeout, retries in rows
                 if (now - aware(r.started_at)).total_seconds() > (timeout + 5) * (retries + 1) + 30 * retries + 60]
        if stale:
            await session.execute(update(CronRun).where(CronRun.id.in_(stale)).values(
                status="failed", finished_at=now, error="interrupted: the worker running it stopped"))
            await session.commit()
    return len(stale)

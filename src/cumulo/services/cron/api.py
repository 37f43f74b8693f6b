"""Cron HTTP routes (seed paths ``/cron``, ``/cron/{id}/pause``, ``/resume``); a job is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.cron import service
from cumulo.services.cron.schemas import JobCreate, JobOut, JobUpdate, RunOut

router = APIRouter(tags=["cron"])


@router.post("/cron", status_code=201, response_model=JobOut)
async def create_job(body: JobCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> JobOut:
    return service.job_out(await service.create(platform, session, user.user_id, body))


@router.get("/cron", response_model=list[JobOut])
async def list_jobs(user: UserDep, session: SessionDep) -> list[JobOut]:
    return [service.job_out(j) for j in await service.list_jobs(session, user.user_id)]


@router.get("/cron/{job}", response_model=JobOut)
async def get_job(job: str, user: UserDep, session: SessionDep) -> JobOut:
    return service.job_out(await service.resolve(session, user.user_id, job))


@router.put("/cron/{job}", response_model=JobOut)
@router.patch("/cron/{job}", response_model=JobOut)
async def update_job(job: str, body: JobUpdate, user: UserDep, platform: PlatformDep,
                     session: SessionDep) -> JobOut:
    return service.job_out(await service.update(platform, session, user.user_id, job, body))


@router.delete("/cron/{job}", status_code=204)
async def delete_job(job: str, user: UserDep, session: SessionDep) -> Response:
    await service.delete(session, user.user_id, job)
    return Response(status_code=204)


@router.post("/cron/{job}/pause", response_model=JobOut)
async def pause(job: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> JobOut:
    return service.job_out(await service.set_paused(platform, session, user.user_id, job, True))


@router.post("/cron/{job}/resume", response_model=JobOut)
async def resume(job: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> JobOut:
    return service.job_out(await service.set_paused(platform, session, user.user_id, job, False))


@router.post("/cron/{job}/run", status_code=202, response_model=RunOut)
async def run_now(job: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> RunOut:
    """Run the job once now; follow it in ``GET /cron/{job}/runs``."""
    return service.run_out(await service.trigger(platform, session, user.user_id, job))


@router.get("/cron/{job}/runs", response_model=list[RunOut])
async def list_runs(job: str, user: UserDep, session: SessionDep,
                    limit: int = Query(50, ge=1, le=500)) -> list[RunOut]:
    """Run history, newest first."""
    return [service.run_out(r) for r in await service.runs(session, user.user_id, job, limit)]

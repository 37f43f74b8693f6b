"""Liveness and readiness probes (seed: System Health)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from cumulo.api.deps import PlatformDep
from cumulo.core.clock import iso, utcnow
from cumulo.platform import HealthCheck

router = APIRouter(tags=["health"])

HEALTHY = {"CONNECTED", "NOT_CONFIGURED", "OK"}


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(platform: PlatformDep) -> JSONResponse:
    """``UP`` when every check passes; 503 ``DEGRADED`` otherwise. Checks run concurrently."""

    async def db() -> str:
        return "CONNECTED" if await platform.db.ping() else "DISCONNECTED"

    checks: dict[str, HealthCheck | None] = {"database": db, "docker": None, **platform.checks}
    names = list(checks)

    async def run(check: HealthCheck | None) -> str:
        if check is None:
            return "NOT_CONFIGURED"
        try:
            return await asyncio.wait_for(check(), timeout=5)
        except Exception:  # noqa: BLE001 - a failing check is a finding, not an error
            return "DISCONNECTED"

    results = await asyncio.gather(*(run(checks[n]) for n in names))
    status = dict(zip(names, results))
    healthy = all(v in HEALTHY for v in status.values())
    return JSONResponse({"status": "UP" if healthy else "DEGRADED", "checks": status, "time": iso(utcnow())},
                        status_code=200 if healthy else 503)

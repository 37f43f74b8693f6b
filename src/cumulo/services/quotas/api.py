"""``GET /quotas``: the caller's limit and use of every resource kind."""

from __future__ import annotations

from fastapi import APIRouter

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.quotas import service
from cumulo.services.quotas.schemas import QuotaOut

router = APIRouter(tags=["quotas"])


@router.get("/quotas", response_model=list[QuotaOut])
async def list_quotas(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[QuotaOut]:
    return [QuotaOut(**q) for q in await service.report(session, platform, user.user_id)]

"""Secrets Manager routes: ``/secrets``; ``{secret}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from cumulo.api import deps
from cumulo.api.deps import PageDep, PlatformDep, SessionDep, UserDep
from cumulo.services.secrets import service
from cumulo.services.secrets.schemas import SecretCreate, SecretOut, SecretUpdate, SecretValueOut

router = APIRouter(tags=["secrets"])


@router.post("/secrets", status_code=201, response_model=SecretOut)
async def create_secret(body: SecretCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> SecretOut:
    return service.secret_out(await service.create(platform, session, user, body))


@router.get("/secrets", response_model=list[SecretOut])
async def list_secrets(user: UserDep, session: SessionDep, page: PageDep, request: Request, response: Response,
                       include_deleted: bool = Query(False, description="also list secrets scheduled for deletion")
                       ) -> list[SecretOut]:
    """``?q=`` (name, description), ``?status=``, ``?limit=&offset=``: searched and paged on the server."""
    return deps.paged_list(request, response, page, [service.secret_out(s) for s in await service.list_secrets(
        session, user, include_deleted=include_deleted)], ("name", "description"))


@router.get("/secrets/{secret:path}", response_model=SecretValueOut)
async def get_secret(secret: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                     version: int | None = Query(None, ge=1, le=2_000_000_000)) -> SecretValueOut:
    return await service.get_value(platform, session, user, secret, version)


@router.put("/secrets/{secret:path}", response_model=SecretOut)
async def put_secret(secret: str, body: SecretUpdate, user: UserDep, platform: PlatformDep,
                     session: SessionDep) -> SecretOut:
    return service.secret_out(await service.put_value(platform, session, user, secret, body))


@router.delete("/secrets/{secret:path}", response_model=None)
async def delete_secret(secret: str, user: UserDep, session: SessionDep,
                        recovery_window_days: int = Query(service.MAX_RECOVERY_DAYS, ge=0, le=365),
                        force: bool = Query(False, description="delete at once, without a recovery window")
                        ) -> SecretOut | Response:
    deleted = await service.schedule_deletion(session, user, secret, recovery_window_days=recovery_window_days,
                                              force=force)
    return Response(status_code=204) if deleted is None else service.secret_out(deleted)


@router.post("/secrets/{secret:path}/restore", response_model=SecretOut)
async def restore_secret(secret: str, user: UserDep, session: SessionDep) -> SecretOut:
    return service.secret_out(await service.restore(session, user, secret))

"""FastAPI dependencies shared by every router: the platform, a DB session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Forbidden, Unauthorized
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.identity import service as identity


async def get_platform(request: Request) -> Platform:
    """Async on purpose: FastAPI runs plain ``def`` dependencies in a worker thread."""
    return request.app.state.platform  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.platform.db.session() as session:
        yield session


def api_key_from(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def get_principal(request: Request) -> Principal:
    key = api_key_from(request)
    if not key:
        raise Unauthorized("missing API key: send it in the X-API-Key header")
    platform: Platform = request.app.state.platform
    principal = await identity.authenticate(platform, key)
    request.app.state.key_limiter.hit(principal.key_id)
    request.state.principal = principal
    return principal


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this endpoint is for administrators")
    return principal


PlatformDep = Annotated[Platform, Depends(get_platform)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
UserDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(get_admin)]

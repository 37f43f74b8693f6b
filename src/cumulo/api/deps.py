"""FastAPI dependencies shared by every router: the platform, a DB session, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from cumulo.core.errors import Forbidden, Unauthorized
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.identity import scopes
from cumulo.services.identity import service as identity


async def get_platform(request: Request) -> Platform:
    """Async on purpose: FastAPI runs plain ``def`` dependencies in a worker thread."""
    return request.app.state.platform  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.platform.db.session() as session:
        yield session


def api_key_from(request: HTTPConnection) -> str | None:
    """The key of ``X-API-Key`` or ``Authorization: Bearer`` (a request or a WebSocket handshake)."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def get_principal(request: Request) -> Principal:
    """The caller behind the request's API key. The rate limit is per user: all of a user's keys
    share one bucket, so minting keys buys no extra requests. A scoped key is refused (403) outside
    its scopes (``cumulo.services.identity.scopes``)."""
    return await authenticate(request, api_key_from(request))


async def authenticate(conn: HTTPConnection, key: str | None, method: str | None = None) -> Principal:
    """``get_principal`` for any connection: REST requests and WebSockets (the console) share it, so
    both get the same key check, rate limit and scopes. ``method`` overrides the request's (a
    WebSocket has none)."""
    if not key:
        raise Unauthorized("missing API key: send it in the X-API-Key header")
    platform: Platform = conn.app.state.platform
    principal = await identity.authenticate(platform, key)
    conn.app.state.key_limiter.hit(principal.user_id)
    if principal.scopes:
        route = conn.scope.get("route")
        endpoint = getattr(route, "endpoint", None)
        scopes.enforce(principal, method or conn.scope.get("method", "GET"),
                       scopes.service_of(getattr(endpoint, "__module__", "")), getattr(route, "path", conn.url.path))
    conn.state.principal = principal
    return principal


async def get_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this endpoint is for administrators")
    return principal


PlatformDep = Annotated[Platform, Depends(get_platform)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
UserDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(get_admin)]

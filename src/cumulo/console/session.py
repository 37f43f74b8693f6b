"""The console's session: ``POST /auth/session`` logs in like ``POST /auth/login`` but hands the new
login key to the browser in an HttpOnly, SameSite=Strict cookie (never to the page's scripts), with
a readable CSRF cookie bound to it; ``DELETE /auth/session`` revokes the key and clears both.

Every other call of the console goes through the public API with that cookie: ``cumulo.api.deps``
reads it when no ``X-API-Key`` is sent, through the same principal, rate limit and scopes, and
refuses an unsafe method without the matching ``X-CSRF-Token``.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from cumulo.api import deps
from cumulo.api.deps import PlatformDep, SessionDep
from cumulo.core.errors import Unauthorized
from cumulo.services.identity import service as identity
from cumulo.services.identity.schemas import LoginIn, UserOut

router = APIRouter(tags=["console"])


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="send it in X-CSRF-Token on every unsafe call (also in the cumulo_csrf "
                                        "cookie)")
    expires_at: dt.datetime | None = None


def _set_cookies(request: Request, response: Response, key: str, ttl: int | None) -> None:
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    common = {"max_age": ttl or None, "path": "/", "secure": secure, "samesite": "strict"}
    response.set_cookie(deps.SESSION_COOKIE, key, httponly=True, **common)  # type: ignore[arg-type]
    response.set_cookie(deps.CSRF_COOKIE, deps.csrf_token_for(key), httponly=False, **common)  # type: ignore[arg-type]


def _clear_cookies(response: Response) -> None:
    for name in (deps.SESSION_COOKIE, deps.CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict")


@router.post("/auth/session", response_model=SessionOut)
async def open_session(body: LoginIn, request: Request, response: Response, platform: PlatformDep,
                       session: SessionDep) -> SessionOut:
    """Log in for the web console: the login key goes into the HttpOnly ``cumulo_session`` cookie."""
    source = request.client.host if request.client else ""
    ttl = body.expires_in_seconds if body.expires_in_seconds is not None else platform.settings.login_key_ttl_seconds
    user, key = await identity.login(platform, session, email=body.email, password=body.password, source=source,
                                     expires_in_seconds=ttl)
    _set_cookies(request, response, key, ttl)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl) if ttl else None
    return SessionOut(user=identity.user_out(user), csrf_token=deps.csrf_token_for(key), expires_at=expires)


@router.delete("/auth/session", status_code=204)
async def close_session(request: Request, platform: PlatformDep, session: SessionDep) -> Response:
    """Log out: the session's key is revoked (with the CSRF token, like any unsafe call) and the
    cookies are cleared. A session that is already invalid just has its cookies cleared."""
    response = Response(status_code=204)
    if deps.session_key_from(request) is None and deps.api_key_from(request) is None:
        _clear_cookies(response)
        return response
    try:
        principal = await deps.get_principal(request)
    except Unauthorized:
        _clear_cookies(response)
        return response
    await identity.logout(platform, session, principal)
    _clear_cookies(response)
    return response

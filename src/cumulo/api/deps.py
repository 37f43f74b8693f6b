"""FastAPI dependencies shared by every router: the platform, a DB session, the caller."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from cumulo.core.errors import Forbidden, Unauthorized
from cumulo.core.ids import sha256_hex
from cumulo.core.principal import Principal
from cumulo.db.paging import MAX_LIMIT, Page
from cumulo.platform import Platform
from cumulo.services.identity import scopes
from cumulo.services.identity import service as identity

T = TypeVar("T")


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


# The web console's session (``cumulo.console``): its login key in an HttpOnly, SameSite=Strict cookie,
# which the page's scripts never see; a second, readable cookie holds the CSRF token bound to that key,
# which the page sends back in ``X-CSRF-Token`` on every unsafe call (double submit).
SESSION_COOKIE = "cumulo_session"
CSRF_COOKIE = "cumulo_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token_for(key: str) -> str:
    """The CSRF token of a session key: derived from it, so a token planted by another site (or
    another session) never matches."""
    return sha256_hex("cumulo-csrf:" + key)[:43]


def session_key_from(conn: HTTPConnection) -> str | None:
    value = conn.cookies.get(SESSION_COOKIE)
    return value.strip() if value and value.strip() else None


def _check_cookie_request(conn: HTTPConnection, key: str, method: str) -> None:
    """A cookie-authenticated call must show it comes from the console's own page: an unsafe request
    carries the session's CSRF token; a WebSocket (no custom headers) comes from the API's origin."""
    if conn.scope.get("type") == "websocket":
        origin = conn.headers.get("origin")
        hosts = {conn.headers.get("host", ""), conn.headers.get("x-forwarded-host", "")} - {""}
        if origin is not None and origin.split("://", 1)[-1] not in hosts:
            raise Forbidden("cross-origin WebSocket refused for a console session")
        return
    if method.upper() in SAFE_METHODS:
        return
    sent = conn.headers.get(CSRF_HEADER, "").encode("latin-1")  # bytes: any header value compares, never raises
    if not sent or not hmac.compare_digest(sent, csrf_token_for(key).encode()):
        raise Forbidden("missing or wrong X-CSRF-Token: a console session's unsafe calls must send the "
                        "token of its cumulo_csrf cookie")


async def get_principal(request: Request) -> Principal:
    """The caller behind the request's API key (or the console's session cookie). The rate limit is
    per user: all of a user's keys share one bucket, so minting keys buys no extra requests. A scoped
    key is refused (403) outside its scopes (``cumulo.services.identity.scopes``)."""
    return await authenticate(request, api_key_from(request))


async def authenticate(conn: HTTPConnection, key: str | None, method: str | None = None) -> Principal:
    """``get_principal`` for any connection: REST requests and WebSockets (the console) share it, so
    both get the same key check, rate limit and scopes. ``method`` overrides the request's (a
    WebSocket has none)."""
    if not key:
        key = session_key_from(conn)
        if key:
            _check_cookie_request(conn, key, method or conn.scope.get("method", "GET"))
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


def list_page(q: str | None = Query(None, max_length=200, description="only rows with this text (any case) in a "
                                                                   "searched field (name, image, status...)"),
              status: str | None = Query(None, max_length=40, description="only rows with this status"),
              limit: int | None = Query(None, ge=1, le=MAX_LIMIT, description="at most this many rows "
                                                                             "(default: all); see X-Total-Count"),
              offset: int = Query(0, ge=0, le=10_000_000, description="rows skipped")) -> Page:
    """A list endpoint's ``?q=&status=&limit=&offset=``: search, filter and pagination on the server."""
    return Page(q=q or None, status=status or None, limit=limit, offset=offset)


def page_headers(request: Request, response: Response, page: Page, total: int, shown: int) -> None:
    """``X-Total-Count`` (rows that matched) and, when more follow, ``Link: <next page>; rel="next"``."""
    response.headers["X-Total-Count"] = str(total)
    if page.limit is not None and page.offset + shown < total:
        nxt = request.url.include_query_params(offset=page.offset + shown, limit=page.limit)
        response.headers["Link"] = f'<{nxt.path}?{nxt.query}>; rel="next"'


def paged_list(request: Request, response: Response, page: Page, items: list[T], fields: tuple[str, ...]) -> list[T]:
    """A list read whole (a few hundred rows at most in one statement) searched and paged here: ``q``
    over the models' ``fields``, ``status`` against their ``status``, then the page, with the headers
    of ``page_headers``. The instance list does the same in SQL (``cumulo.db.paging``)."""
    if page.q and page.q.strip():
        needle = page.q.strip().lower()
        items = [i for i in items if any(needle in str(getattr(i, f, "") or "").lower() for f in fields)]
    if page.status:
        wanted = page.status.strip().lower()
        items = [i for i in items if str(getattr(i, "status", "") or "").lower() == wanted]
    total = len(items)
    shown = items[page.offset:] if page.limit is None else items[page.offset:page.offset + page.limit]
    page_headers(request, response, page, total, len(shown))
    return shown


PlatformDep = Annotated[Platform, Depends(get_platform)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
UserDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(get_admin)]
PageDep = Annotated[Page, Depends(list_page)]

"""One pure-ASGI middleware for what every request needs: a request id, security headers,
a body-size cap, the per-IP limit on the public auth endpoints, and metrics.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cumulo.api.metrics import Metrics
from cumulo.api.ratelimit import RateLimiter
from cumulo.core.errors import CumuloError, PayloadTooLarge

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    # /docs and /redoc load only the API's own assets; the UIs set inline styles, ReDoc runs a blob: worker
    (b"content-security-policy", (b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                  b"script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'")),
]
_VALID_RID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
PUBLIC_AUTH_PATHS = ("/auth/register", "/auth/login", "/auth/forgot-password", "/auth/reset-password",
                     "/auth/verify", "/auth/signup", "/auth/session", "/token", "/register")  # the last three: seed aliases


class _BodyTooLarge(Exception):
    pass


def error_response_body(error: CumuloError, request_id: str) -> bytes:
    body = error.body()
    body["error"]["request_id"] = request_id
    return json.dumps(body).encode()


def streamed_path(path: str, pattern: str) -> bool:
    """A ``STREAMED`` entry is a path prefix, or a glob when it has a ``*`` (``/apps/*/source``)."""
    return fnmatch.fnmatchcase(path, pattern) if "*" in pattern else path.startswith(pattern)


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, auth_limiter: RateLimiter, metrics: Metrics,
                 streamed: tuple[tuple[str, str], ...] = ()):
        self.app, self.max_body, self.auth_limiter, self.metrics = app, max_body, auth_limiter, metrics
        self.streamed = streamed  # (method, path prefix) of routes that stream their body to disk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500}
        rid = request_id.encode()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid))
                headers.extend(SECURITY_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        try:
            error = self._precheck(scope)
            if error is not None:
                await _send_error(send_wrapper, error, request_id)
                return
            if _header(scope, b"content-length") is None and _header(scope, b"transfer-encoding") \
                    and not self._is_streamed(scope):
                receive = await self._buffered(receive)
            await self.app(scope, receive, send_wrapper)
        except _BodyTooLarge:
            await _send_error(send_wrapper, PayloadTooLarge(f"request body exceeds {self.max_body} bytes"),
                              request_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status_holder["status"], time.perf_counter() - start)

    def _is_streamed(self, scope: Scope) -> bool:
        return any(scope["method"] == m and streamed_path(scope["path"], p) for m, p in self.streamed)

    def _precheck(self, scope: Scope) -> CumuloError | None:
        length = _header(scope, b"content-length")
        if length is not None and not self._is_streamed(scope):
            try:
                if int(length) > self.max_body:
                    return PayloadTooLarge(f"request body exceeds {self.max_body} bytes")
            except ValueError:
                pass
        path: str = scope["path"]
        if scope["method"] != "OPTIONS" and path.startswith(PUBLIC_AUTH_PATHS):
            client = scope.get("client")
            try:
                self.auth_limiter.hit(client[0] if client else "unknown")
            except CumuloError as exc:
                return exc
        return None

    async def _buffered(self, receive: Receive) -> Receive:
        """A chunked body of unknown length: read it (up to the cap) before the app sees it."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_body:
                raise _BodyTooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


async def _send_error(send: Send, error: CumuloError, request_id: str) -> None:
    body = error_response_body(error, request_id)
    headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _incoming_request_id(scope: Scope) -> str | None:
    value = _header(scope, b"x-request-id")
    return value if value and _VALID_RID.match(value) else None

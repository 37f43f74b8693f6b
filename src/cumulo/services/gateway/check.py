"""The data path's check endpoint: Caddy's ``forward_auth`` asks it before proxying a route that
has ``require_api_key`` or ``rate_limit``.

A small HTTP/1.1 server on a Unix socket in the data dir (``proxy/check.sock``), run by the process
that supervises Caddy (one per installation, so the per-client buckets are exact). It answers
``GET /check/route-<route id>`` with 204 (go on), 401 (no or wrong key) or 429 (over the rate, with
``Retry-After``); Caddy passes a non-2xx answer to the client as is. Deliberately not FastAPI: it
is on every request of those routes, and a bare parser keeps the hop well under a millisecond.

- Rate limit: a token bucket per (route, client IP), ``rate_limit`` tokens per second and a burst
  of ``max(1, rate_limit)``. The client IP is Caddy's ``X-Forwarded-For`` (Caddy sets it to the
  peer address: a client cannot choose it).
- API key (``X-API-Key`` or ``Authorization: Bearer``): a Cumulo API key of the route's owner, or
  a key the owner issued for this route (``POST /routes/{id}/keys``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from pathlib import Path

from sqlalchemy import bindparam, select

from cumulo.core.buckets import MemoryBuckets
from cumulo.core.errors import Unauthorized
from cumulo.core.ids import sha256_hex
from cumulo.db.query import Query
from cumulo.platform import Platform
from cumulo.services.gateway.models import GatewayRoute, RouteKey
from cumulo.services.identity import service as identity

log = logging.getLogger("cumulo.gateway")

_POLICY = Query(select(GatewayRoute.user_id, GatewayRoute.require_api_key, GatewayRoute.rate_limit)
                .where(GatewayRoute.id == bindparam("route_id")))
_ROUTE_KEY = Query(select(RouteKey.route_id).where(RouteKey.key_hash == bindparam("key_hash")))
POLICY_TTL = 1.0  # seconds a route's policy is reused (a route changed or deleted is seen within this)
_REASONS = {204: "No Content", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            400: "Bad Request", 503: "Service Unavailable"}


def _error(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class Checker:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.buckets = MemoryBuckets()
        self._policies: dict[str, tuple[float, tuple[str, bool, float | None] | None]] = {}
        self.checks = 0

    async def _policy(self, route_id: str) -> tuple[str, bool, float | None] | None:
        now = time.monotonic()
        cached = self._policies.get(route_id)
        if cached and cached[0] > now:
            return cached[1]
        rows = await self.platform.db.read(_POLICY, route_id=route_id)
        policy = (rows[0][0], bool(rows[0][1]), rows[0][2]) if rows else None
        if len(self._policies) > 10_000:
            self._policies.clear()
        self._policies[route_id] = (now + POLICY_TTL, policy)
        return policy

    async def _key_ok(self, route_id: str, owner: str, raw: str) -> bool:
        if raw.startswith("crk_"):
            if len(raw) > 200:
                return False
            rows = await self.platform.db.read(_ROUTE_KEY, key_hash=sha256_hex(raw))
            return bool(rows) and rows[0][0] == route_id
        try:
            principal = await identity.authenticate(self.platform, raw)
        except Unauthorized:
            return False
        return principal.user_id == owner

    async def decide(self, route_id: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        self.checks += 1
        policy = await self._policy(route_id)
        if policy is None:
            return 404, _error(404, "NOT_FOUND", "route not found"), {}
        owner, require_key, rate = policy
        if rate:
            client = headers.get("x-forwarded-for", "").split(",")[0].strip() or "unknown"
            wait = self.buckets.take(f"{route_id}|{client}", max(1.0, rate), rate, time.monotonic())
            if wait > 0:
                return 429, _error(429, "RATE_LIMITED", f"rate limit of {rate:g} requests/second exceeded"), {
                    "Retry-After": str(max(1, math.ceil(wait)))}
        if require_key:
            raw = headers.get("x-api-key", "").strip()
            if not raw:
                scheme, _, value = headers.get("authorization", "").partition(" ")
                raw = value.strip() if scheme.lower() == "bearer" else ""
            if not raw:
                return 401, _error(401, "UNAUTHORIZED", "this route needs an API key: send X-API-Key"), {
                    "WWW-Authenticate": "Bearer"}
            if not await self._key_ok(route_id, owner, raw):
                return 401, _error(401, "UNAUTHORIZED", "invalid API key for this route"), {
                    "WWW-Authenticate": "Bearer"}
        return 204, b"", {}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length and length.isdigit() and int(length) > 0:
        await reader.readexactly(int(length))  # never expected (forward_auth sends a GET)
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        return None  # not supported: close the connection
    return parts[1], headers


class CheckServer:
    def __init__(self, platform: Platform, path: Path):
        self.checker = Checker(platform)
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def serve(self) -> None:
        """Run until cancelled."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.path), limit=64 * 1024)
        self.path.chmod(0o600)
        try:
            await self._server.serve_forever()
        finally:
            self._server.close()
            self.path.unlink(missing_ok=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                target, headers = request
                route_id = target.removeprefix("/check/route-").split("?")[0] if target.startswith("/check/route-") \
                    else ""
                try:
                    status, body, extra = await self.checker.decide(route_id, headers) if route_id else (
                        404, _error(404, "NOT_FOUND", "no such check"), {})
                except Exception:
                    log.exception("gateway check failed")
                    status, body, extra = 503, _error(503, "UNAVAILABLE", "gateway check failed"), {}
                lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", f"Content-Length: {len(body)}"]
                if body:
                    lines.append("Content-Type: application/json")
                lines.extend(f"{k}: {v}" for k, v in extra.items())
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

"""Scoped API keys: what a key may call, beyond what its user may.

A key made with ``scopes`` is limited by every scope it carries:

- ``read-only``: only ``GET`` and ``HEAD`` calls;
- a service name (``storage``, ``queues``, ``compute``, ...: the folders of ``cumulo.services`` that
  serve routes, see ``names()``): only that service's routes. Several names add up.

Every scoped key may still call ``GET /auth/me``, ``GET /auth/keys``, ``GET /quotas`` and
``POST /auth/logout`` (revoking itself); it can neither mint, rotate nor revoke keys, so it can never
widen its own scope. A key without scopes may do everything its user may. S3 on the S3 port is
authorised by S3 credentials, not API keys: a storage-scoped key can create S3 credentials (full S3
access to the user's buckets) unless it is read-only too.
"""

from __future__ import annotations

from functools import lru_cache

from cumulo.core.errors import Forbidden, InvalidInput
from cumulo.core.principal import Principal

READ_ONLY = "read-only"
READ_METHODS = frozenset({"GET", "HEAD"})
ALWAYS = frozenset({("GET", "/auth/me"), ("GET", "/auth/keys"), ("GET", "/quotas"), ("POST", "/auth/logout")})
NOT_GRANTABLE = frozenset({"identity", "health", "quotas"})  # key management is never delegated


@lru_cache(maxsize=1)
def names() -> frozenset[str]:
    """The services a key may be limited to: every service with routes, but identity."""
    import importlib.util

    from cumulo import services

    return frozenset(n for n in services.names() if n not in NOT_GRANTABLE
                     and importlib.util.find_spec(f"cumulo.services.{n}.api") is not None)


def parse(scopes: list[str] | None) -> str | None:
    """Validated, stored form ("read-only,storage"), or None for an unscoped key."""
    if not scopes:
        return None
    allowed = names() | {READ_ONLY}
    wanted = sorted({s.strip().lower() for s in scopes})
    unknown = [s for s in wanted if s not in allowed]
    if unknown:
        raise InvalidInput(f"scopes: unknown {', '.join(unknown)}; use {READ_ONLY} and/or service names: "
                           f"{', '.join(sorted(names()))}")
    return ",".join(wanted)


def split(stored: str | None) -> tuple[str, ...]:
    return tuple(stored.split(",")) if stored else ()


def service_of(module: str) -> str:
    """``cumulo.services.storage.api`` -> ``storage`` (other modules: "")."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["cumulo", "services"] else ""


def enforce(principal: Principal, method: str, service: str, route: str) -> None:
    """Refuse (403) a call outside the key's scopes; ``route`` is the path template."""
    if not principal.scopes or (method, route) in ALWAYS:
        return
    if READ_ONLY in principal.scopes and method not in READ_METHODS:
        raise Forbidden(f"this API key is read-only: {method} {route} is refused (only GET and HEAD)")
    granted = [s for s in principal.scopes if s != READ_ONLY]
    if granted and service not in granted:
        raise Forbidden(f"this API key is limited to {', '.join(granted)}: {method} {route} is refused")
    if service in NOT_GRANTABLE:
        raise Forbidden("a scoped API key cannot manage API keys or accounts; use an unscoped key")

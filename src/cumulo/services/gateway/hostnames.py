"""Hostnames on the data plane: generated names, custom names owned by one user, and public URLs.

A hostname belongs to one user across routes, load balancers and anything else that serves
traffic (a second user's claim is 409); one user may use a hostname for several resources (e.g. a
load balancer and a ``/api`` route on the same name: the longest prefix wins).
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.config import Settings
from cumulo.core.errors import Conflict, InvalidInput
from cumulo.db import locks
from cumulo.services.gateway.models import HostnameClaim

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")


def user_slug(user_id: str) -> str:
    """The user's part of generated hostnames: 8 hex digits of the user id."""
    return user_id.replace("-", "").lower()[:8]


def generated_hostname(settings: Settings, name: str, user_id: str) -> str:
    """``{name}-{user}.{base domain}`` (``name`` must be a DNS label, see ``NAME``)."""
    return f"{name}-{user_slug(user_id)}.{settings.proxy_base_domain.strip('.').lower()}"


def normalize(hostname: str) -> str:
    """Lower-case, trailing dot dropped; 400 unless it is a plain DNS name with at least two labels."""
    host = hostname.strip().rstrip(".").lower()
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(f"invalid hostname {hostname!r}: use a DNS name such as api.example.com "
                           "(letters, digits and hyphens; no wildcard, port or IP address)")
    if labels[-1].isdigit():
        raise InvalidInput(f"invalid hostname {hostname!r}: an IP address is not a hostname")
    return host


def check_custom(settings: Settings, hostname: str, user_id: str) -> str:
    """A user's custom hostname, normalized. Under the base domain only the user's own generated
    form (``*-{user}.{base}``) is allowed, so nobody can take another user's generated name."""
    host = normalize(hostname)
    base = settings.proxy_base_domain.strip(".").lower()
    if host == base:
        raise InvalidInput(f"hostname {host} is the platform's base domain")
    if host.endswith("." + base):
        first = host[: -len(base) - 1]
        if "." in first or not first.endswith("-" + user_slug(user_id)):
            raise InvalidInput(f"under {base} a hostname must look like <name>-{user_slug(user_id)}.{base}")
    return host


async def claim(session: AsyncSession, user_id: str, hostname: str, kind: str, resource_id: str) -> None:
    """Record that ``hostname`` serves (kind, resource_id) of ``user_id``; 409 when another user holds
    it. Call in the write's transaction, before the commit (the claim is locked until then)."""
    await locks.hold(session, f"hostname:{hostname}")
    holder = await session.scalar(select(HostnameClaim.user_id).where(
        HostnameClaim.hostname == hostname, HostnameClaim.user_id != user_id).limit(1))
    if holder is not None:
        raise Conflict(f"hostname {hostname} is already in use by another account")
    existing = await session.get(HostnameClaim, (hostname, kind, resource_id))
    if existing is None:
        session.add(HostnameClaim(hostname=hostname, kind=kind, resource_id=resource_id, user_id=user_id))
        await session.flush()


async def release(session: AsyncSession, kind: str, resource_id: str) -> None:
    """Drop every hostname claim of (kind, resource_id) (before the commit of its deletion)."""
    await session.execute(delete(HostnameClaim).where(HostnameClaim.kind == kind,
                                                      HostnameClaim.resource_id == resource_id))


def public_url(settings: Settings, *, hostname: str | None = None, port: int | None = None, prefix: str = "/",
               https: bool = False) -> str:
    """The URL a client uses: ``http://{hostname}[:{http port}]{prefix}`` on the shared ports, or
    ``http://{base domain}:{port}/`` for a resource on its own port (plain HTTP)."""
    if port is not None:
        return f"http://{settings.proxy_base_domain.strip('.')}:{port}{prefix}"
    scheme, own, default = ("https", settings.proxy_https_port, 443) if https else ("http", settings.proxy_http_port, 80)
    return f"{scheme}://{hostname}{'' if own == default else f':{own}'}{prefix}"

"""The seed projects' own paths, answered by Cumulo's services (identity, compute, health) through
their ``service.py``: nothing here owns a table.

| seed | path | Cumulo |
|---|---|---|
| Cloud OS | ``POST /token`` (OAuth2 password form) | ``POST /auth/login``; the bearer token is an API key |
| Cloud OS | ``POST /register`` ``{username, email, password}`` | ``POST /auth/register`` |
| Cloud OS | ``GET /user`` | ``GET /auth/me`` plus container counts |
| Cloud OS | ``POST /users/container`` ``{container_image, password, port?, time_limit_minutes?}`` | ``POST /instances`` with ``password`` and ``ttl_seconds`` |
| Cloud OS | ``DELETE /users/container?container_name=`` | ``DELETE /instances/{id}`` |
| Cloud OS | ``GET /users/containers`` | ``GET /instances`` |
| Cloud OS | ``DELETE /container/{name}`` (administrators) | any user's instance by name |
| VirtCloud | ``POST /auth/signup`` ``{email, username, password, plan}`` | ``POST /auth/register`` |
| VirtCloud / CloudNest | ``GET /auth/me`` | identity's own route |
| CloudNest | ``GET /health`` | ``GET /health/ready`` in CloudNest's shape |
| CloudNest | ``GET /`` | name, version, status, where the docs are |
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import __version__
from cumulo.core.clock import aware, iso, utcnow
from cumulo.core.errors import Conflict, CumuloError, not_found
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.aliases.schemas import ContainerIn, ContainerOut, UserOut
from cumulo.services.compute import service as compute
from cumulo.services.compute.schemas import InstanceCreate
from cumulo.services.identity import service as identity

REGISTERED = "user created: check your mailbox to verify the address, then log in (POST /token)"


def _slug(name: str) -> str:
    kept = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return (kept or "user")[:40]


async def register(platform: Platform, session: AsyncSession, *, email: str, username: str, password: str) -> str:
    await identity.register(platform, session, email=email, password=password, name=username)
    return REGISTERED


async def token(platform: Platform, session: AsyncSession, *, username: str, password: str) -> str:
    """The OAuth2 password flow's username is the account's email."""
    _user, key = await identity.login(platform, session, email=username, password=password)
    return key


async def me(platform: Platform, session: AsyncSession, principal: Principal) -> UserOut:
    user = await identity.get_user(session, principal.user_id)
    count = len(await compute.list_instances(session, principal))
    return UserOut(id=user.id, username=user.name, email=user.email, role=user.role, verified=user.email_verified,
                   active_containers=count, max_containers=platform.settings.compute_max_instances,
                   created_at=aware(user.created_at))


def _published(ports: str, container_port: int | None) -> int | None:
    for item in filter(None, (ports or "").split(",")):
        host, _, inside = item.partition(":")
        if container_port is None or inside == str(container_port):
            return int(host) if host.isdigit() and int(host) else None
    return None


def container_out(inst: Any, host: str, port: int | None = None) -> ContainerOut:
    out = compute.instance_out(inst)  # the public view: the host ports really bound
    published = _published(out.ports, port)
    return ContainerOut(container_id=out.id, container_name=out.name, container_image=out.image,
                        status=out.status, port=published,
                        service_url=f"http://{host}:{published}" if published else None,
                        down_time=out.expires_at, created_at=out.created_at)


async def create_container(platform: Platform, session: AsyncSession, principal: Principal, body: ContainerIn,
                           host: str) -> ContainerOut:
    name = f"{_slug(principal.name)}-{secrets.token_hex(4)}"
    spec = InstanceCreate(name=name, image=body.container_image, password=body.password,
                          ports=f"0:{body.port}" if body.port else None, ttl_seconds=body.time_limit_minutes * 60)
    inst = await compute.launch(platform, session, principal, spec)
    return container_out(inst, host, body.port)


async def list_containers(session: AsyncSession, principal: Principal, host: str) -> list[ContainerOut]:
    return [container_out(i, host) for i in await compute.list_instances(session, principal)]


async def delete_container(platform: Platform, session: AsyncSession, principal: Principal, ref: str) -> None:
    await compute.delete(platform, session, principal, ref)


async def delete_any(platform: Platform, session: AsyncSession, name: str) -> None:
    """An administrator's delete by name (Cloud OS's expiry webhook): whoever owns it."""
    found = []
    for user in await identity.list_users(session):
        try:
            found.append(await compute.get_instance(session, user.id, name))
        except CumuloError as exc:
            if exc.status != 404:
                raise
    if not found:
        raise not_found("container", name)
    if len(found) > 1:
        raise Conflict(f"{len(found)} users have a container named '{name}': delete it by its id "
                       f"({', '.join(i.id for i in found)})")
    await compute.terminate(platform, session, found[0], action="instance.deleted")


async def health(platform: Platform) -> tuple[bool, dict[str, Any]]:
    async def check(fn: Any) -> str:
        try:
            return str(await asyncio.wait_for(fn(), timeout=5))
        except Exception:  # noqa: BLE001 - a failing check is a finding
            return "DISCONNECTED"

    async def db() -> str:
        return "CONNECTED" if await platform.db.ping() else "DISCONNECTED"

    checks = {"database": db, **platform.checks}
    results = dict(zip(checks, await asyncio.gather(*(check(fn) for fn in checks.values()))))
    healthy = all(v in ("CONNECTED", "NOT_CONFIGURED", "OK") for v in results.values())
    services = {name: ("connected" if value in ("CONNECTED", "OK") else value.lower()) for name, value in results.items()}
    return healthy, {"status": "healthy" if healthy else "degraded", "timestamp": iso(utcnow()), "services": services}


def about() -> dict[str, str]:
    return {"name": "Cumulo", "tagline": "Your own cloud: compute, storage, networking and serverless",
            "version": __version__, "status": "running", "docs": "/docs", "openapi": "/openapi.json"}

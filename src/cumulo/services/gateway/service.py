"""Gateway use cases: routes (create, read, delete), route keys, and the hostname functions other
services use (``claim_hostname``, ``release_hostnames``, ``generated_hostname``, ``public_url``).

Every write commits and then calls ``providers.changed`` so the reconciler pushes the new proxy
config (coalesced).
"""

from __future__ import annotations

from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.core.errors import QuotaExceeded, not_found
from cumulo.core.ids import sha256_hex, token
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.gateway import hostnames, providers, targets
from cumulo.services.gateway.models import GatewayRoute, RouteKey
from cumulo.services.gateway.schemas import RouteCreate, RouteKeyCreatedOut, RouteKeyOut, RouteOut
from cumulo.services.quotas import service as quotas

KIND = "route"
ROUTE_KEY_PREFIX = "crk_"
MAX_KEYS_PER_ROUTE = 20

# For other services (load balancers, apps): see ``providers``' docstring.
claim_hostname = hostnames.claim
release_hostnames = hostnames.release


def generated_hostname(platform: Platform, name: str, user_id: str) -> str:
    return hostnames.generated_hostname(platform.settings, name, user_id)


def public_url(platform: Platform, *, hostname: str | None = None, port: int | None = None, prefix: str = "/",
               https: bool = False) -> str:
    return hostnames.public_url(platform.settings, hostname=hostname, port=port, prefix=prefix, https=https)


def route_out(platform: Platform, route: GatewayRoute) -> RouteOut:
    s = platform.settings
    return RouteOut(
        id=route.id, name=route.name, hostname=route.hostname,
        url=hostnames.public_url(s, hostname=route.hostname, prefix=route.prefix),
        https_url=hostnames.public_url(s, hostname=route.hostname, prefix=route.prefix, https=True)
        if s.proxy_https_port else None,
        prefix=route.prefix, target=route.target, strip_prefix=route.strip_prefix,
        methods=[m for m in route.methods.split(",") if m], timeout_seconds=route.timeout_seconds,
        preserve_host=route.preserve_host, require_api_key=route.require_api_key, rate_limit=route.rate_limit,
        created_at=aware(route.created_at), updated_at=aware(route.updated_at))


async def create(platform: Platform, session: AsyncSession, user: Principal, body: RouteCreate) -> GatewayRoute:
    target = await targets.normalize(platform, session, user.user_id, body.target)
    if body.hostname:
        hostname, generated = hostnames.check_custom(platform.settings, body.hostname, user.user_id), False
    else:
        hostname, generated = hostnames.generated_hostname(platform.settings, body.name, user.user_id), True
    await quotas.check(session, platform, user.user_id, "routes")
    route = GatewayRoute(user_id=user.user_id, name=body.name, hostname=hostname, hostname_generated=generated,
                         prefix=body.prefix, methods=",".join(sorted(set(body.methods))), target=target,
                         strip_prefix=body.strip_prefix, timeout_seconds=body.timeout_seconds,
                         preserve_host=body.preserve_host, require_api_key=body.require_api_key,
                         rate_limit=body.rate_limit)
    session.add(route)
    await flush_or_conflict(session, f"a route named '{body.name}' exists, or another route has this hostname, "
                                     "prefix and methods")
    await hostnames.claim(session, user.user_id, hostname, KIND, route.id)
    events.record(session, user_id=user.user_id, action="route.created", resource_type=KIND, resource_id=route.id,
                  name=route.name, hostname=hostname, prefix=route.prefix)
    await session.commit()
    await providers.changed(platform)
    return route


async def get(session: AsyncSession, user: Principal, ref: str) -> GatewayRoute:
    return await owned(session, GatewayRoute, user.user_id, ref, KIND)


async def list_routes(session: AsyncSession, user: Principal) -> list[GatewayRoute]:
    return list((await session.scalars(select(GatewayRoute).where(GatewayRoute.user_id == user.user_id)
                                       .order_by(GatewayRoute.created_at, GatewayRoute.id))).all())


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    route = await get(session, user, ref)
    await hostnames.release(session, KIND, route.id)
    await session.execute(sa_delete(RouteKey).where(RouteKey.route_id == route.id))
    await session.delete(route)
    events.record(session, user_id=user.user_id, action="route.deleted", resource_type=KIND, resource_id=route.id,
                  name=route.name)
    await session.commit()
    await providers.changed(platform)


def key_out(key: RouteKey) -> RouteKeyOut:
    return RouteKeyOut(id=key.id, route_id=key.route_id, name=key.name, prefix=key.prefix,
                       created_at=aware(key.created_at))


async def create_key(session: AsyncSession, user: Principal, ref: str, name: str) -> RouteKeyCreatedOut:
    route = await get(session, user, ref)
    count = await session.scalar(select(func.count(RouteKey.id)).where(RouteKey.route_id == route.id)) or 0
    if count >= MAX_KEYS_PER_ROUTE:
        raise QuotaExceeded(f"a route may have at most {MAX_KEYS_PER_ROUTE} keys")
    raw = ROUTE_KEY_PREFIX + token(30)
    key = RouteKey(route_id=route.id, user_id=user.user_id, name=name, prefix=raw[:12], key_hash=sha256_hex(raw))
    session.add(key)
    await session.flush()
    events.record(session, user_id=user.user_id, action="route.key_created", resource_type=KIND,
                  resource_id=route.id, key_id=key.id, name=name)
    await session.commit()
    return RouteKeyCreatedOut(**key_out(key).model_dump(), key=raw)


async def list_keys(session: AsyncSession, user: Principal, ref: str) -> list[RouteKey]:
    route = await get(session, user, ref)
    return list((await session.scalars(select(RouteKey).where(RouteKey.route_id == route.id)
                                       .order_by(RouteKey.created_at, RouteKey.id))).all())


async def delete_key(session: AsyncSession, user: Principal, ref: str, key_id: str) -> None:
    route = await get(session, user, ref)
    key = await session.scalar(select(RouteKey).where(RouteKey.id == key_id, RouteKey.route_id == route.id))
    if key is None:
        raise not_found("route key", key_id)
    await session.delete(key)
    events.record(session, user_id=user.user_id, action="route.key_deleted", resource_type=KIND,
                  resource_id=route.id, key_id=key_id)
    await session.commit()

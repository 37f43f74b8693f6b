"""What caches give the services below them (through ``cumulo.ports``): their usage for the billing
meter, from their own rows (billed per second while ``available``, by cpus and memory), and their
stop at zero balance (stopped, never deleted: the keys stay on the volume)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.principal import Principal
from cumulo.db.lookup import owned
from cumulo.services.caches.models import Cache
from cumulo.services.databases.hooks import servers_usage, stop_available


async def usage(session: AsyncSession) -> list[ports.Usage]:
    return await servers_usage(session, Cache)


async def suspend(platform: Any, user: Principal) -> int:
    """Stop every available cache of the user; how many."""
    from cumulo.services.caches import service

    return await stop_available(platform, user, "cache", service.list_caches, service.stop)


async def resolve_cache(session: AsyncSession, user_id: str, ref: str) -> str:
    """The caller's cache by id or name (its metrics series): 404 for anyone else's."""
    return str((await owned(session, Cache, user_id, ref, "cache")).id)


async def caches_in_vpc(session: AsyncSession, user_id: str, vpc_id: str) -> list[str]:
    """The names of the user's caches placed in the VPC, stopped ones too (the VPC's delete guard)."""
    return list((await session.scalars(select(Cache.name).where(Cache.user_id == user_id,
                                                                 Cache.vpc_id == vpc_id))).all())


ports.resolvers.add("cache", resolve_cache)
ports.users.add("vpc", "cache", caches_in_vpc)
ports.usage.add("cache", ports.Meterable(service="caches", states=usage, suspend=suspend, evented=True))

"""What caches give the services below them (through ``cumulo.ports``): their usage for the billing
meter, from their own rows (billed per second while ``available``, by cpus and memory)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.services.caches.models import Cache
from cumulo.services.databases.hooks import servers_usage


async def usage(session: AsyncSession) -> list[ports.Usage]:
    return await servers_usage(session, Cache)


ports.usage.add("cache", ports.Meterable(service="caches", states=usage))

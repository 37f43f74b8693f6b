"""What managed databases give the services below them (through ``cumulo.ports``): their usage for
the billing meter, from their own rows (billed per second while ``available``, by cpus and memory;
their storage, ``database_storage``, per GiB-month while the database exists, stopped too), and their stop at zero balance (stopped, never deleted: the data stays on the disk)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware
from cumulo.core.errors import CumuloError
from cumulo.core.principal import Principal
from cumulo.services.databases.convergence import AVAILABLE
from cumulo.services.databases.models import ManagedDatabase


async def servers_usage(session: AsyncSession, model: Any) -> list[ports.Usage]:
    """Each server (a database or a cache: the same columns) as its row says now."""
    rows = await session.execute(select(model.id, model.user_id, model.name, model.status, model.updated_at,
                                        model.cpus, model.memory_mb))
    return [ports.Usage(resource_id=rid, user_id=user_id, name=name, active=status == AVAILABLE,
                        since=aware(updated_at), spec={"cpus": float(cpus), "memory_mb": int(memory_mb)})
            for rid, user_id, name, status, updated_at, cpus, memory_mb in rows.all()]


async def usage(session: AsyncSession) -> list[ports.Usage]:
    return await servers_usage(session, ManagedDatabase)


async def storage_usage(session: AsyncSession) -> list[ports.Usage]:
    """Each database's disk (``storage_gb``): billed while the database exists, whatever its status."""
    rows = await session.execute(select(ManagedDatabase.id, ManagedDatabase.user_id, ManagedDatabase.name,
                                        ManagedDatabase.updated_at, ManagedDatabase.storage_gb))
    return [ports.Usage(resource_id=rid, user_id=user_id, name=name, active=True, since=aware(updated_at),
                        spec={"size_gb": int(size_gb)})
            for rid, user_id, name, updated_at, size_gb in rows.all()]


async def stop_available(platform: Any, user: Principal, kind: str, listed: Any, stop: Any) -> int:
    """Stop every available server (database or cache: ``listed(session, user)``, ``stop(platform,
    session, user, id)``) of the user, at zero balance; how many. One that fails is logged, and left."""
    stopped = 0
    async with platform.db.session() as session:
        for server in await listed(session, user):
            if server.status == AVAILABLE:
                try:
                    await stop(platform, session, user, server.id)
                    stopped += 1
                except CumuloError as exc:
                    logging.getLogger(f"cumulo.{kind}s").warning("%s %s not stopped: %s", kind, server.id, exc.message)
    return stopped


async def suspend(platform: Any, user: Principal) -> int:
    """Stop every available database of the user; how many."""
    from cumulo.services.databases import service

    return await stop_available(platform, user, "database", service.list_databases, service.stop)


ports.usage.add("database", ports.Meterable(service="databases", states=usage, suspend=suspend))
ports.usage.add("database_storage", ports.Meterable(service="databases", states=storage_usage))

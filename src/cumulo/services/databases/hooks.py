"""What managed databases give the services below them (through ``cumulo.ports``): their usage for
the billing meter, from their own rows (billed per second while ``available``, by cpus and memory,
from the moment of each change of status or size, which the models stamp;
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
from cumulo.db.lookup import owned
from cumulo.services.databases.convergence import AVAILABLE
from cumulo.services.databases.models import ManagedDatabase, state_key


def _since(stamp: Any, key: str | None, values: tuple[Any, ...], updated_at: Any) -> Any:
    """The stamp of the last change when it is for the values the row holds now; else (a row changed
    by a bulk UPDATE, or made before the stamps) the row's last change."""
    return stamp if stamp is not None and key == state_key(values) else updated_at


async def servers_usage(session: AsyncSession, model: Any) -> list[ports.Usage]:
    """Each server (a database or a cache: the same columns) as its row says now, since the exact
    moment its status, cpus or memory last changed (``state_changed_at``, stamped by the model)."""
    rows = await session.execute(select(model.id, model.user_id, model.name, model.status, model.cpus,
                                        model.memory_mb, model.state_changed_at, model.state_changed_key,
                                        model.updated_at))
    return [ports.Usage(resource_id=rid, user_id=user_id, name=name, active=status == AVAILABLE,
                        since=aware(_since(stamp, key, (status, cpus, memory_mb), updated_at)),
                        spec={"cpus": float(cpus), "memory_mb": int(memory_mb)})
            for rid, user_id, name, status, cpus, memory_mb, stamp, key, updated_at in rows.all()]


async def usage(session: AsyncSession) -> list[ports.Usage]:
    return await servers_usage(session, ManagedDatabase)


async def storage_usage(session: AsyncSession) -> list[ports.Usage]:
    """Each database's disk (``storage_gb``): billed while the database exists, whatever its status,
    from the moment of its last change of size."""
    m = ManagedDatabase
    rows = await session.execute(select(m.id, m.user_id, m.name, m.storage_gb, m.storage_changed_at,
                                        m.storage_changed_key, m.updated_at))
    return [ports.Usage(resource_id=rid, user_id=user_id, name=name, active=True,
                        since=aware(_since(stamp, key, (size_gb,), updated_at)), spec={"size_gb": int(size_gb)})
            for rid, user_id, name, size_gb, stamp, key, updated_at in rows.all()]


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


async def resolve_database(session: AsyncSession, user_id: str, ref: str) -> str:
    """The caller's database by id or name (its metrics series): 404 for anyone else's."""
    return str((await owned(session, ManagedDatabase, user_id, ref, "database")).id)


async def databases_in_vpc(session: AsyncSession, user_id: str, vpc_id: str) -> list[str]:
    """The names of the user's databases placed in the VPC, whatever their status (a stopped one
    starts again in it): the VPC's delete and retirement guard."""
    return list((await session.scalars(select(ManagedDatabase.name).where(
        ManagedDatabase.user_id == user_id, ManagedDatabase.vpc_id == vpc_id))).all())


ports.resolvers.add("database", resolve_database)
ports.users.add("vpc", "database", databases_in_vpc)
# evented: every change is an audit event carrying its usage (``transitions``); ``states`` seeds only
ports.usage.add("database", ports.Meterable(service="databases", states=usage, suspend=suspend, evented=True))
ports.usage.add("database_storage", ports.Meterable(service="databases", states=storage_usage, evented=True))

"""Bring a database's container to its desired state (used by requests and by the reconciler):
its disk mounted, its container made from the current spec and running (or stopped), and the
server accepting connections."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, reading_at, utcnow
from cumulo.platform import Platform
from cumulo.services.databases import engines, placement
from cumulo.services.databases.containers import Spec, wait_until
from cumulo.services.databases.models import ManagedDatabase

KIND = "database"
READY_TIMEOUT = 240.0
CREATING, AVAILABLE, STOPPED, ERROR = "creating", "available", "stopped", "error"


def container_name(db_id: str) -> str:
    return f"cumulo-db-{db_id}"


def spec(platform: Platform, db: ManagedDatabase) -> Spec:
    e = engines.engine(db.engine)
    return Spec(name=container_name(db.id), image=e.image, command=engines.command(e, db.parameters or {}),
                labels=placement.labels(platform, KIND, db.id, db.user_id), volume=placement.disk_name(db.id),
                data_path=e.data_path, port=e.port, network=db.network_name,
                host_port=db.host_port if db.public else None, publish_host=placement.publish_host(platform),
                cpus=db.cpus, memory_mb=db.memory_mb, env=engines.env(e, db.database_name, db.username))


async def accepting(platform: Platform, db: ManagedDatabase) -> bool:
    e = engines.engine(db.engine)
    code, _ = await placement.containers(platform).run(container_name(db.id),
                                                       engines.ready_probe(e, db.database_name, db.username))
    return code == 0


async def wait_ready(platform: Platform, db: ManagedDatabase, timeout: float = READY_TIMEOUT) -> None:
    async def ready() -> bool:
        return await accepting(platform, db)
    await wait_until(ready, timeout, f"database {db.name}")


async def bring_up(platform: Platform, db: ManagedDatabase, *, first_boot_password: str | None = None) -> str | None:
    """Running and accepting connections; the container's address in its network."""
    c = placement.containers(platform)
    await placement.heal_disk(platform, KIND, db.id, db.user_id, db.disk_backend)
    db.vpc_id, db.network_name = await placement.ensure_network(platform, db.user_id, db.vpc_id, db.network_name)
    if first_boot_password is not None:
        await c.write_files(container_name(db.id), engines.first_boot_files(engines.engine(db.engine),
                                                                            first_boot_password))
    started = await c.ensure(spec(platform, db))
    if started or not await accepting(platform, db):
        await wait_ready(platform, db)
    if first_boot_password is not None:
        await c.write_files(container_name(db.id), {})  # the password now lives in the server only
    return await c.address(container_name(db.id), db.network_name)


async def note_crash(platform: Platform, session: AsyncSession, server: Any, name: str) -> bool:
    """A server (a database or a cache: ``server`` its row) found stopped on its own while available and
    meant to run: recorded as failed (committed) at the moment it really stopped, Docker's stop time in
    Cumulo's time, not when this pass noticed (the billing meter ends its run there; starting it again
    opens a new one). True when it had stopped."""
    found = await placement.containers(platform).exited(name)
    if found is None:
        return False
    code, finished = found
    moment, since = min(reading_at(finished), utcnow()), aware(server.state_changed_at)
    server.status, server.error = ERROR, f"the server stopped on its own (exit code {code}); starting it again"
    server.state_changed_at = max(moment, since) if since is not None else moment  # not before its last change
    await session.commit()
    return True


async def converge(platform: Platform, db: ManagedDatabase) -> dict[str, object]:
    """The changes to record on the row (status, address)."""
    c = placement.containers(platform)
    if db.desired == "stopped":
        await c.stop(container_name(db.id))
        return {"status": STOPPED}
    address = await bring_up(platform, db)
    return {"status": AVAILABLE, "address": address, "error": None, "updated_at": utcnow()}

"""Managed database use cases: create (answers once the server accepts connections, with the
password once), list, show, stop, start, reboot, resize and parameters, password rotation, delete
(with a final backup unless skipped). Backups and restores are in ``backups.py``."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.core.errors import Conflict, CumuloError, InvalidInput, not_found
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.databases import convergence, engines, placement
from cumulo.services.databases.convergence import AVAILABLE, CREATING, ERROR, STOPPED
from cumulo.services.databases.models import ManagedDatabase
from cumulo.services.databases.schemas import (
    RESERVED_USERS,
    DatabaseCreate,
    DatabaseOut,
    DatabaseUpdate,
    Endpoint,
)
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas

RECONCILE = "databases"


async def resolve(session: AsyncSession, user: Principal | str, ref: str) -> ManagedDatabase:
    return await owned(session, ManagedDatabase, user if isinstance(user, str) else user.user_id, ref, "database")


def database_out(platform: Platform, db: ManagedDatabase) -> DatabaseOut:
    e = engines.engine(db.engine)
    running = db.status == AVAILABLE
    return DatabaseOut(
        id=db.id, name=db.name, engine=e.name, engine_product=e.product, version=db.version, status=db.status,
        cpus=db.cpus, memory_mb=db.memory_mb, storage_gb=db.storage_gb, storage_size_enforced=db.disk_backend == "loop",
        database=db.database_name, username=db.username, credentials_secret=db.secret_name,
        endpoint=Endpoint(host=db.address, port=e.port) if db.address and running else None,
        public_endpoint=Endpoint(host=placement.public_host(platform), port=db.host_port)
        if db.public and db.host_port and running else None,
        vpc_id=db.vpc_id, public=db.public, parameters=db.parameters or {},
        backup_retention_days=db.backup_retention_days, backup_window=db.backup_window,
        last_backup_at=aware(db.last_backup_at), restored_from=db.restored_from, error=db.error,
        created_at=aware(db.created_at))


def _validate(platform: Platform, body: DatabaseCreate) -> tuple[engines.Engine, str, dict[str, int]]:
    e = engines.engine(body.engine)
    version = engines.check_version(e, body.version)
    params = e.validate(body.parameters, body.memory_mb)
    placement.check_storage(platform, body.storage_gb)
    if body.username in RESERVED_USERS or body.username.startswith(("pg_", "mysql")):
        raise InvalidInput(f"username '{body.username}' is reserved by the engine; choose another one")
    if body.database in ("postgres", "template0", "template1", "mysql", "information_schema",
                         "performance_schema", "sys"):
        raise InvalidInput(f"database '{body.database}' is reserved by the engine; choose another one")
    return e, version, params


async def create(platform: Platform, session: AsyncSession, user: Principal, body: DatabaseCreate, *,
                 restored_from: str | None = None) -> tuple[ManagedDatabase, str]:
    """Validate, record (creating) with its credentials secret, make the disk and the server, wait
    until it accepts connections. (database, password). A failure after the record leaves the
    database in ``error`` with the reason (delete it), never a half-made one that looks usable."""
    e, version, params = _validate(platform, body)
    if await session.scalar(select(ManagedDatabase.id).where(ManagedDatabase.user_id == user.user_id,
                                                             ManagedDatabase.name == body.name)):
        raise Conflict(f"you already have a database named '{body.name}'")
    vpc_id, network = await placement.network_for(platform, session, user, body.vpc_id)
    await quotas.check(session, platform, user.user_id, "databases")
    db_id, password = new_id(), placement.new_password()
    taken = set((await session.scalars(select(ManagedDatabase.host_port)
                                       .where(ManagedDatabase.host_port.is_not(None)))).all())
    db = ManagedDatabase(
        id=db_id, user_id=user.user_id, name=body.name, engine=e.name, version=version, cpus=body.cpus,
        memory_mb=body.memory_mb, storage_gb=body.storage_gb, status=CREATING, desired="running",
        database_name=body.database, username=body.username, secret_name=f"databases/{body.name}-{db_id[:8]}",
        vpc_id=vpc_id, network_name=network, public=body.public,
        host_port=placement.free_host_port(platform, taken) if body.public else None, parameters=params,
        backup_retention_days=body.backup_retention_days, backup_window=body.backup_window,
        restored_from=restored_from)
    session.add(db)
    try:
        await flush_or_conflict(session, f"you already have a database named '{body.name}'")
        events.record(session, user_id=user.user_id, action="database.created", resource_type="database",
                      resource_id=db.id, name=db.name, engine=e.name, version=version, storage_gb=db.storage_gb,
                      restored_from=restored_from)
        db.secret_id = await placement.store_password(
            platform, session, user.user_id, db.secret_name, password,
            f"master password of {e.product} database {db.name} ({db.id})")  # commits the database too
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
    try:
        db.disk_backend = await placement.make_disk(platform, convergence.KIND, db.id, db.user_id, db.storage_gb)
        await session.commit()
        db.address = await convergence.bring_up(platform, db, first_boot_password=password)
        db.status = AVAILABLE
    except CumuloError as exc:
        db.status, db.error = ERROR, exc.message
        events.record(session, user_id=user.user_id, action="database.failed", resource_type="database",
                      resource_id=db.id, reason=exc.message)
        await session.commit()
        raise
    await session.commit()
    return db, password


async def list_databases(session: AsyncSession, user: Principal) -> list[ManagedDatabase]:
    return list((await session.scalars(select(ManagedDatabase).where(ManagedDatabase.user_id == user.user_id)
                                       .order_by(ManagedDatabase.created_at, ManagedDatabase.id))).all())


def _require(db: ManagedDatabase, *statuses: str) -> None:
    if db.status not in statuses:
        raise Conflict(f"database '{db.name}' is {db.status}; this needs it {' or '.join(statuses)}")


async def _record(session: AsyncSession, db: ManagedDatabase, action: str, **fields: Any) -> None:
    events.record(session, user_id=db.user_id, action=f"database.{action}", resource_type="database",
                  resource_id=db.id, name=db.name, **fields)
    await session.commit()


async def _bring_up_or_fail(platform: Platform, session: AsyncSession, db: ManagedDatabase) -> None:
    try:
        db.address = await convergence.bring_up(platform, db)
    except CumuloError as exc:
        db.status, db.error = ERROR, exc.message
        await session.commit()
        reconcile.wake(platform, RECONCILE, db.id)  # keeps trying (with backoff)
        raise
    db.status, db.error = AVAILABLE, None


def _converging(platform: Platform, db: ManagedDatabase) -> contextlib.AbstractAsyncContextManager[None]:
    """The reconciler's lease of the database, held while a request changes its server (stop, start,
    reboot, resize): a reconciler pass that read the row before the change would otherwise start the
    server the request stops, or write the status again after the request (a later moment of the
    change than the real one, which the billing meter bills by)."""
    return reconcile.holding(platform, RECONCILE, db.id, convergence.READY_TIMEOUT + 60)


async def _fresh(session: AsyncSession, db: ManagedDatabase) -> None:
    try:
        await session.refresh(db)
    except InvalidRequestError as exc:  # deleted meanwhile
        raise not_found("database", db.id) from exc


async def stop(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> ManagedDatabase:
    db = await resolve(session, user, ref)
    async with _converging(platform, db):
        await _fresh(session, db)  # as a pass that ran before the lease left it
        _require(db, AVAILABLE, STOPPED)
        db.desired = "stopped"
        await session.commit()
        await placement.containers(platform).stop(convergence.container_name(db.id))
        db.status = STOPPED
        await _record(session, db, "stopped")
    return db


async def start(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> ManagedDatabase:
    db = await resolve(session, user, ref)
    async with _converging(platform, db):
        await _fresh(session, db)
        _require(db, AVAILABLE, STOPPED, ERROR)
        db.desired = "running"
        await session.commit()
        await _bring_up_or_fail(platform, session, db)
        await _record(session, db, "started")
    return db


async def reboot(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> ManagedDatabase:
    db = await resolve(session, user, ref)
    async with _converging(platform, db):
        await _fresh(session, db)
        _require(db, AVAILABLE)
        await placement.containers(platform).restart(convergence.container_name(db.id))
        await _bring_up_or_fail(platform, session, db)
        await _record(session, db, "rebooted")
    return db


async def update(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 body: DatabaseUpdate) -> ManagedDatabase:
    """Resize (cpus, memory), grow storage (never shrink), change parameters or the backup
    settings. A change of cpus, memory or parameters restarts the server (data stays on the disk)."""
    db = await resolve(session, user, ref)
    async with _converging(platform, db):
        await _fresh(session, db)
        _require(db, AVAILABLE, STOPPED)
        return await _update(platform, session, db, body)


async def _update(platform: Platform, session: AsyncSession, db: ManagedDatabase, body: DatabaseUpdate) -> ManagedDatabase:
    e = engines.engine(db.engine)
    memory = body.memory_mb if body.memory_mb is not None else db.memory_mb
    params = e.validate(body.parameters if body.parameters is not None else (db.parameters or {}), memory)
    changes: dict[str, Any] = {}
    if body.storage_gb is not None and body.storage_gb != db.storage_gb:
        if body.storage_gb < db.storage_gb:
            raise InvalidInput(f"storage_gb can only grow (it is {db.storage_gb}); a disk is never shrunk")
        placement.check_storage(platform, body.storage_gb)
        await _grow(platform, session, db, body.storage_gb)
        changes["storage_gb"] = body.storage_gb
    for field, value in (("cpus", body.cpus), ("memory_mb", body.memory_mb),
                         ("backup_retention_days", body.backup_retention_days),
                         ("backup_window", body.backup_window)):
        if value is not None and value != getattr(db, field):
            changes[field] = value
    if params != (db.parameters or {}):
        changes["parameters"] = params
    if not changes:
        return db
    for field, value in changes.items():
        setattr(db, field, value)
    events.record(session, user_id=db.user_id, action="database.modified", resource_type="database",
                  resource_id=db.id, name=db.name, **changes)
    await session.commit()
    if db.status == AVAILABLE and set(changes) & {"cpus", "memory_mb", "parameters"}:
        await _bring_up_or_fail(platform, session, db)  # the container is made again from the new spec
        await session.commit()
    return db


async def _grow(platform: Platform, session: AsyncSession, db: ManagedDatabase, size_gb: int) -> None:
    """Online when the kernel lets Cumulo resize a mounted file system, else with the server
    stopped for the resize (a restart of a few seconds, as a storage change on a small RDS class)."""
    try:
        await placement.grow_disk(platform, db.id, db.disk_backend, size_gb, offline=False)
        return
    except CumuloError:
        pass
    await placement.containers(platform).stop(convergence.container_name(db.id))
    await placement.grow_disk(platform, db.id, db.disk_backend, size_gb, offline=True)
    if db.status == AVAILABLE:
        await _bring_up_or_fail(platform, session, db)
    else:
        await placement.heal_disk(platform, convergence.KIND, db.id, db.user_id, db.disk_backend)


async def rotate(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> tuple[ManagedDatabase, str]:
    """A new master password: set in the server first, then stored as the secret's new version."""
    db = await resolve(session, user, ref)
    _require(db, AVAILABLE)
    password = placement.new_password()
    argv, as_user = engines.set_password_command(engines.engine(db.engine), db.username, password)
    code, out = await placement.containers(platform).run(convergence.container_name(db.id), argv, user=as_user)
    if code != 0:
        raise Conflict(f"the server refused the new password: {out.strip()[:200]}")
    if db.secret_id:
        await placement.update_password(platform, session, db.user_id, db.secret_id, password)
    await _record(session, db, "credentials_rotated")
    return db, password


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 skip_final_backup: bool) -> None:
    from cumulo.services.databases import backups

    db = await resolve(session, user, ref)
    if not skip_final_backup:
        if db.status != AVAILABLE:
            raise Conflict(f"database '{db.name}' is {db.status}: a final backup needs it available (start it, "
                           "or delete with skip_final_backup)")
        await backups.take(platform, session, db, "final")
    await remove(platform, session, db)


async def remove(platform: Platform, session: AsyncSession, db: ManagedDatabase) -> None:
    async with _converging(platform, db):  # a pass between the removal and the row's would make them again
        await placement.containers(platform).remove(convergence.container_name(db.id))
        await placement.drop_disk(platform, db.id)
        await placement.forget_password(session, db.user_id, db.secret_id)
        await session.delete(db)
        events.record(session, user_id=db.user_id, action="database.deleted", resource_type="database",
                      resource_id=db.id, name=db.name)
        await session.commit()


async def logs(platform: Platform, session: AsyncSession, user: Principal, ref: str, tail: int) -> str:
    db = await resolve(session, user, ref)
    return await placement.containers(platform).logs(convergence.container_name(db.id), tail)


async def metrics(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> dict[str, Any]:
    db = await resolve(session, user, ref)
    c = placement.containers(platform)
    out: dict[str, Any] = dict(await c.stats(convergence.container_name(db.id)))
    if db.status == AVAILABLE:
        out.update(await _engine_metrics(platform, db))
    return out


async def _engine_metrics(platform: Platform, db: ManagedDatabase) -> dict[str, Any]:
    name = convergence.container_name(db.id)
    c = placement.containers(platform)
    if db.engine == "postgres":
        sql = ("SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
               f"pg_database_size('{db.database_name}')")
        code, out = await c.run(name, ["psql", "-tA", "-F", " ", "-U", db.username, "-d", db.database_name,
                                       "-c", sql], user="postgres")
    else:
        sql = ("SELECT (SELECT count(*) FROM information_schema.processlist WHERE command <> 'Daemon'), "
               "(SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
               f"WHERE table_schema = '{db.database_name}')")
        code, out = await c.run(name, ["mariadb", "-N", "-B", "-e", sql], user="root")
    parts = out.split()
    if code != 0 or len(parts) < 2:
        return {}
    return {"connections": int(parts[0]), "storage_used_bytes": int(float(parts[1]))}


async def ids(platform: Platform) -> list[str]:
    async with platform.db.session() as session:
        return list((await session.scalars(select(ManagedDatabase.id))).all())

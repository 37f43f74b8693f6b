"""Backups of managed databases: a logical dump (``pg_dump -Fc`` / ``mariadb-dump``) taken in the
server's container and written through the storage service into a bucket Cumulo keeps for the
user (``cumulo-backups-...``, owned by Cumulo, read-only to the user: ``backupbucket``), retention pruning, the daily automated backup in
each database's window, and restores, which always make a new database."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, CumuloError, InvalidInput, QuotaExceeded, not_found
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.databases import backupbucket, convergence, engines, placement, service
from cumulo.services.databases.models import DatabaseBackup, ManagedDatabase
from cumulo.services.databases.quotas import BACKUP_BYTES
from cumulo.services.databases.schemas import BackupOut, DatabaseCreate, RestoreIn
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas
from cumulo.services.storage import buckets, objects
from cumulo.services.storage.errors import S3Error

log = logging.getLogger("cumulo.databases")
CHUNK = 1024 * 1024
AVAILABLE, CREATING, FAILED = "available", "creating", "error"
BASE = "base"  # a physical base backup (pg_basebackup) for point-in-time recovery, with the archived WAL


def backup_out(b: DatabaseBackup) -> BackupOut:
    return BackupOut(id=b.id, database_id=b.database_id, database_name=b.database_name, engine=b.engine,
                     version=b.version, kind=b.kind, status=b.status, bucket=b.bucket, key=b.key, bytes=b.bytes,
                     expires_at=aware(b.expires_at), error=b.error,
                     created_at=aware(b.created_at))


async def take(platform: Platform, session: AsyncSession, db: ManagedDatabase, kind: str) -> DatabaseBackup:
    """Dump ``db`` into the user's backup bucket. A failure records the backup as ``error``."""
    if db.status != convergence.AVAILABLE:
        raise Conflict(f"database '{db.name}' is {db.status}: a backup needs it available")
    await quotas.check(session, platform, db.user_id, BACKUP_BYTES, add=1, lock=False)  # full already: nothing made
    bucket = await backupbucket.backup_bucket(platform, session, db.user_id)
    e = engines.engine(db.engine)
    now = utcnow()
    backup = DatabaseBackup(
        id=new_id(), user_id=db.user_id, database_id=db.id, database_name=db.name, engine=db.engine,
        version=db.version, kind=kind, status=CREATING, bucket=bucket.name,
        key=f"{db.name}-{db.id[:8]}/{now:%Y%m%dT%H%M%SZ}-{kind}.{_extension(e, kind)}",
        source={"database": db.database_name, "username": db.username, "cpus": db.cpus, "memory_mb": db.memory_mb,
                "storage_gb": db.storage_gb, "parameters": db.parameters or {},
                "backup_retention_days": db.backup_retention_days, "backup_window": db.backup_window},
        expires_at=now + dt.timedelta(days=db.backup_retention_days) if kind in ("automated", BASE) else None)
    session.add(backup)
    await session.commit()
    argv, as_user = engines.base_backup_command(db.username) if kind == BASE else \
        engines.dump_command(e, db.database_name, db.username)
    with tempfile.TemporaryDirectory(dir=backupbucket.scratch(platform)) as tmp:
        dest = Path(tmp) / "dump"
        try:
            size = await placement.containers(platform).dump(convergence.container_name(db.id), argv, dest,
                                                             user=as_user)
            await quotas.check(session, platform, db.user_id, BACKUP_BYTES, add=size)  # under the user's lock
            backup.bytes = size  # reserved: a backup running beside this one counts it
            await session.commit()
            await objects.put_object(platform, bucket, backup.key, backupbucket.file_chunks(dest), objects.Checks(size=size),
                                     content_type="application/octet-stream",
                                     meta={"x-amz-meta-cumulo-database": db.id, "x-amz-meta-cumulo-engine": db.engine})
        except CumuloError as exc:
            backup.status, backup.error = FAILED, exc.message
            events.record(session, user_id=db.user_id, action="database.backup_failed", resource_type="database",
                          resource_id=db.id, backup_id=backup.id, reason=exc.message)
            await session.commit()
            raise
    backup.status, backup.bytes = AVAILABLE, size
    if kind == BASE:  # recovery to a time needs WAL from after this point: the window opens here
        backup.source = {**backup.source, "consistent_at": utcnow().isoformat()}
    else:
        db.last_backup_at = now
    events.record(session, user_id=db.user_id, action="database.backed_up", resource_type="database",
                  resource_id=db.id, backup_id=backup.id, kind=kind, bytes=size, bucket=bucket.name, key=backup.key)
    await session.commit()
    if e is engines.POSTGRES and kind in ("manual", "automated"):  # and a base for point-in-time recovery
        try:
            await take(platform, session, db, BASE)
        except QuotaExceeded as exc:  # the dump is made; the base is listed as error with the reason
            log.warning("base backup of database %s refused: %s", db.id, exc.message)
    return backup


def _extension(e: engines.Engine, kind: str) -> str:
    if kind == BASE:
        return "base.tar.gz"
    return "pgdump" if e is engines.POSTGRES else "sql"


async def create(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> DatabaseBackup:
    db = await service.resolve(session, user, ref)
    return await take(platform, session, db, "manual")


async def list_backups(session: AsyncSession, user: Principal, ref: str) -> list[DatabaseBackup]:
    """Backups of the caller's database ``ref`` (id or name), or of a deleted database by its id."""
    try:
        db_id = (await service.resolve(session, user, ref)).id
    except CumuloError:
        db_id = ref
    rows = (await session.scalars(select(DatabaseBackup).where(DatabaseBackup.user_id == user.user_id,
                                                               DatabaseBackup.database_id == db_id)
                                  .order_by(DatabaseBackup.created_at.desc()))).all()
    if not rows:
        await service.resolve(session, user, ref)  # 404 for someone else's or an unknown database
    return list(rows)


async def resolve_backup(session: AsyncSession, user: Principal, backup_id: str) -> DatabaseBackup:
    backup = await session.scalar(select(DatabaseBackup).where(DatabaseBackup.user_id == user.user_id,
                                                                DatabaseBackup.id == backup_id))
    if backup is None:
        raise not_found("backup", backup_id)
    return backup


async def delete_backup(platform: Platform, session: AsyncSession, user: Principal, ref: str, backup_id: str) -> None:
    backup = await resolve_backup(session, user, backup_id)
    try:
        db_id: str | None = (await service.resolve(session, user, ref)).id
    except CumuloError:
        db_id = None
    if backup.database_id not in (db_id, ref):
        raise not_found("backup", backup_id)
    await _drop(platform, session, backup)


async def _drop(platform: Platform, session: AsyncSession, backup: DatabaseBackup) -> None:
    try:
        bucket = await buckets.get_bucket(session, backup.bucket)
        if bucket.user_id == backup.user_id or await backupbucket.is_owner(session, bucket.user_id):
            await objects.delete_object(platform, bucket, backup.key)
    except S3Error:
        pass  # the user removed the object or the bucket already
    await session.delete(backup)
    events.record(session, user_id=backup.user_id, action="database.backup_deleted", resource_type="database",
                  resource_id=backup.database_id, backup_id=backup.id)
    await session.commit()


async def restore(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                  body: RestoreIn) -> tuple[ManagedDatabase, str]:
    """A new database made from ``body.backup_id`` (of database ``ref``): same engine, version, sizes,
    database and user names; a new password."""
    backup = await resolve_backup(session, user, body.backup_id or "")
    try:
        source = await service.resolve(session, user, ref)
        source_id: str | None = source.id
    except CumuloError:
        source_id = None
    if backup.database_id not in (source_id, ref):
        raise not_found("backup", backup.id)
    if backup.status != AVAILABLE:
        raise Conflict(f"backup {backup.id} is {backup.status}; only an available backup can be restored")
    if backup.kind == BASE:
        raise InvalidInput(f"backup {backup.id} is a base backup for point-in-time recovery: restore with "
                           "restore_time instead")
    spec = restore_spec(backup, body.name, body.public, body.vpc_id)
    bucket = await buckets.get_bucket(session, backup.bucket)
    row = await objects.read_version(platform, bucket, backup.key)  # 404 NoSuchKey if the user deleted it
    db, password = await service.create(platform, session, user, spec, restored_from=backup.id)
    try:
        await _load(platform, db, row.blob_id)
    except CumuloError as exc:
        db.status, db.error = convergence.ERROR, f"restore of backup {backup.id} failed: {exc.message}"
        await session.commit()
        raise
    events.record(session, user_id=user.user_id, action="database.restored", resource_type="database",
                  resource_id=db.id, backup_id=backup.id, source_database_id=backup.database_id)
    await session.commit()
    return db, password


def restore_spec(backup: DatabaseBackup, name: str, public: bool | None, vpc_id: str | None) -> DatabaseCreate:
    """The new database a restore of ``backup`` makes: the source's engine, version, sizes, names."""
    src = backup.source or {}
    try:
        return DatabaseCreate(name=name, engine=backup.engine, version=backup.version,
                              cpus=src.get("cpus", 1.0), memory_mb=src.get("memory_mb", 512),
                              storage_gb=src.get("storage_gb", 1), vpc_id=vpc_id, public=bool(public),
                              database=src.get("database", "app"), username=src.get("username", "master"),
                              backup_retention_days=src.get("backup_retention_days", 7),
                              backup_window=src.get("backup_window", "03:00-04:00"),
                              parameters=src.get("parameters") or {})
    except ValueError as exc:
        raise InvalidInput(f"the backup cannot be restored here: {exc}") from None


async def _load(platform: Platform, db: ManagedDatabase, blob_id: str | None) -> None:
    from cumulo.services.storage.versions import blob_store

    e = engines.engine(db.engine)
    c = placement.containers(platform)
    name = convergence.container_name(db.id)
    code, uid = await c.run(name, ["id", "-u", "postgres" if e is engines.POSTGRES else "root"])
    owner = int(uid.strip()) if code == 0 and uid.strip().isdigit() else 0
    with tempfile.TemporaryDirectory(dir=backupbucket.scratch(platform)) as tmp:
        local = Path(tmp) / "dump"
        fh = await asyncio.to_thread(local.open, "wb")
        try:
            if blob_id:
                async for chunk in await blob_store(platform).read(blob_id):
                    await asyncio.to_thread(fh.write, chunk)
        finally:
            fh.close()
        await c.put_file(name, "/tmp/cumulo-restore", local, uid=owner, gid=0)
        with open(local, "rb") as head:  # noqa: ASYNC230 - five bytes of a local file
            custom = head.read(5) == b"PGDMP"
    argv, as_user = engines.restore_command(e, db.database_name, db.username, "/tmp/cumulo-restore", custom)
    code, out = await c.run(name, argv, user=as_user)
    await c.run(name, ["rm", "-f", "/tmp/cumulo-restore"])
    if code != 0:
        raise Conflict(f"the dump did not load: {out.strip()[-300:]}")


async def import_dump(platform: Platform, session: AsyncSession, user: Principal, ref: str, bucket_name: str,
                      key: str) -> ManagedDatabase:
    """Load a dump the user uploaded to one of their buckets (``pg_dump`` custom format or plain SQL
    for PostgreSQL, SQL for MariaDB) into their database ``ref``."""
    db = await service.resolve(session, user, ref)
    if db.status != convergence.AVAILABLE:
        raise Conflict(f"database '{db.name}' is {db.status}: an import needs it available")
    bucket = await buckets.owned_bucket(session, user.user_id, bucket_name)  # someone else's: not found
    row = await objects.read_version(platform, bucket, key)
    await _load(platform, db, row.blob_id)
    events.record(session, user_id=user.user_id, action="database.imported", resource_type="database",
                  resource_id=db.id, bucket=bucket_name, key=key, bytes=row.size)
    await session.commit()
    return db


async def create_from_dump(platform: Platform, session: AsyncSession, user: Principal,
                           body: DatabaseCreate) -> tuple[ManagedDatabase, str]:
    """A NEW database that starts with the data of a dump the user uploaded (``body.import_from``, as
    RDS restores from S3). The bucket (the caller's: anyone else's is not found) and the key are read
    before anything is made; a dump the engine refuses removes the new database again (400 with the
    engine's words): nothing is left half-made."""
    source = body.import_from
    if source is None:
        raise InvalidInput("import_from {bucket, key} is required")
    bucket = await buckets.owned_bucket(session, user.user_id, source.bucket)
    row = await objects.read_version(platform, bucket, source.key)  # 404 NoSuchKey before anything is made
    db, password = await service.create(platform, session, user, body)
    try:
        await _load(platform, db, row.blob_id)
    except CumuloError as exc:
        await service.remove(platform, session, db)
        raise InvalidInput(f"{source.bucket}/{source.key} did not load into a new {db.engine} database, which "
                           f"was removed again: {exc.message}") from None
    events.record(session, user_id=user.user_id, action="database.imported", resource_type="database",
                  resource_id=db.id, bucket=source.bucket, key=source.key, bytes=row.size)
    await session.commit()
    return db, password


# --- the loops (reconciler.py) -------------------------------------------------------------------------

def in_window(window: str, now: dt.datetime) -> bool:
    start, end = window.split("-")
    minute = now.hour * 60 + now.minute
    lo = int(start[:2]) * 60 + int(start[3:])
    hi = int(end[:2]) * 60 + int(end[3:])
    return lo <= minute < hi if lo <= hi else minute >= lo or minute < hi


async def due(platform: Platform) -> list[str]:
    """Available databases inside their backup window without a backup in the last 20 hours."""
    now = utcnow()
    async with platform.db.session() as session:
        rows = (await session.execute(select(ManagedDatabase.id, ManagedDatabase.backup_window,
                                             ManagedDatabase.last_backup_at)
                                      .where(ManagedDatabase.status == convergence.AVAILABLE))).all()
    return [r[0] for r in rows if in_window(r[1], now)
            and (r[2] is None or now - aware(r[2]) > dt.timedelta(hours=20))]


async def _refused_lately(session: AsyncSession, db: ManagedDatabase) -> bool:
    """An automated backup of ``db`` refused by the backup quota in the last 20 hours: the next is
    tried the next day (or after a manual backup), not on every pass of the loop."""
    since = utcnow() - dt.timedelta(hours=20)
    return bool(await session.scalar(select(DatabaseBackup.id).where(
        DatabaseBackup.database_id == db.id, DatabaseBackup.kind == "automated", DatabaseBackup.status == FAILED,
        DatabaseBackup.error.like(f"{BACKUP_BYTES} quota exceeded%"), DatabaseBackup.created_at > since).limit(1)))


async def automated(platform: Platform) -> None:
    for db_id in await due(platform):
        async with platform.db.session() as session:
            db = await session.get(ManagedDatabase, db_id)
            if db is None or await _refused_lately(session, db):
                continue
            try:
                await take(platform, session, db, "automated")
            except QuotaExceeded as exc:
                await _record_refusal(session, db, exc)
                log.warning("automated backup of database %s refused: %s", db_id, exc.message)
            except CumuloError as exc:
                log.warning("automated backup of database %s failed: %s", db_id, exc.message)


async def _record_refusal(session: AsyncSession, db: ManagedDatabase, exc: QuotaExceeded) -> None:
    """A failed automated backup with the reason, for the one the quota refused before it began (one
    refused after its dump is recorded as failed by ``take`` already)."""
    if await _refused_lately(session, db):
        return
    now = utcnow()
    session.add(DatabaseBackup(id=new_id(), user_id=db.user_id, database_id=db.id, database_name=db.name,
                               engine=db.engine, version=db.version, kind="automated", status=FAILED, bucket="",
                               key=f"{db.name}-{db.id[:8]}/{now:%Y%m%dT%H%M%SZ}-automated", source={},
                               expires_at=now + dt.timedelta(days=db.backup_retention_days), error=exc.message))
    events.record(session, user_id=db.user_id, action="database.backup_failed", resource_type="database",
                  resource_id=db.id, reason=exc.message)
    await session.commit()


async def prune(platform: Platform) -> int:
    """Delete automated backups past their retention; the count."""
    now = utcnow()
    async with platform.db.session() as session:
        expired = list((await session.scalars(select(DatabaseBackup).where(
            DatabaseBackup.expires_at.is_not(None), DatabaseBackup.expires_at < now))).all())
        for backup in expired:
            await _drop(platform, session, backup)
    return len(expired)

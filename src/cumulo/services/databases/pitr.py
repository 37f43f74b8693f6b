"""Point-in-time recovery of PostgreSQL databases.

Every PostgreSQL server archives its WAL (``archive_mode=on``, ``archive_timeout`` 240 s, see
``engines.PG_ARCHIVING``) into ``cumulo_wal`` on its own disk; ``ship`` moves each finished segment,
gzipped, into the user's backup bucket (``<database>/wal/<segment>.gz``), from the backups loop and
before a restore. Each manual and automated backup also takes a base backup (``pg_basebackup``,
kind ``base``). ``restore_to_time`` makes a NEW database from the newest base backup before the
target, replays the archived WAL up to ``recovery_target_time`` and promotes it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, CumuloError, InvalidInput, Unavailable
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.databases import backupbucket, backups, convergence, engines, placement, service
from cumulo.services.databases.containers import wait_until
from cumulo.services.databases.models import DatabaseBackup, ManagedDatabase
from cumulo.services.events import service as events
from cumulo.services.storage import buckets, listing, objects
from cumulo.services.storage.versions import blob_store

if TYPE_CHECKING:
    from cumulo.services.storage.models import Bucket

SEGMENT = re.compile(r"^[0-9A-F]{24}$|^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$|^[0-9A-F]{8}\.history$")
D = engines.POSTGRES.data_path


def wal_prefix(db: ManagedDatabase | DatabaseBackup) -> str:
    db_id = db.id if isinstance(db, ManagedDatabase) else db.database_id
    name = db.name if isinstance(db, ManagedDatabase) else db.database_name
    return f"{name}-{db_id[:8]}/wal/"


async def _sql(platform: Platform, db: ManagedDatabase, sql: str) -> str:
    code, out = await placement.containers(platform).run(
        convergence.container_name(db.id), ["psql", "-tA", "-v", "ON_ERROR_STOP=1", "-U", db.username, "-d",
                                            "postgres", "-c", sql], user="postgres")
    if code != 0:
        raise Conflict(f"the server refused '{sql[:40]}': {out.strip()[-200:]}")
    return out.strip()


async def ship(platform: Platform, session: AsyncSession, db: ManagedDatabase) -> int:
    """Upload the archived WAL files waiting on the database's disk; how many."""
    c, name = placement.containers(platform), convergence.container_name(db.id)
    code, out = await c.run(name, ["sh", "-c", f"ls -1 {engines.WAL_DIR} 2>/dev/null || true"], user="postgres")
    files = sorted(f for f in out.split() if SEGMENT.match(f))
    if code != 0 or not files:
        return 0
    bucket = await backupbucket.backup_bucket(platform, session, db.user_id)
    with tempfile.TemporaryDirectory(dir=backupbucket.scratch(platform)) as tmp:
        for f in files:
            dest = Path(tmp) / f
            size = await c.dump(name, ["gzip", "-c", f"{engines.WAL_DIR}/{f}"], dest, user="postgres")
            await objects.put_object(platform, bucket, wal_prefix(db) + f + ".gz", backupbucket.file_chunks(dest),
                                     objects.Checks(size=size), content_type="application/gzip",
                                     meta={"x-amz-meta-cumulo-database": db.id})
            await c.run(name, ["rm", "-f", f"{engines.WAL_DIR}/{f}"], user="postgres")
            dest.unlink()
    return len(files)


async def ship_all(platform: Platform) -> None:
    """The backups loop: every available PostgreSQL database's finished WAL segments."""
    async with platform.db.session() as session:
        ids = list((await session.scalars(select(ManagedDatabase.id).where(
            ManagedDatabase.engine == "postgres", ManagedDatabase.status == convergence.AVAILABLE))).all())
    for db_id in ids:
        async with platform.db.session() as session:
            db = await session.get(ManagedDatabase, db_id)
            if db is not None:
                try:
                    await ship(platform, session, db)
                except CumuloError as exc:
                    backups.log.warning("shipping the WAL of database %s failed: %s", db_id, exc.message)


async def prune_wal(platform: Platform) -> int:
    """Delete archived WAL no kept base backup needs (uploaded before the oldest one began); the count."""
    gone = 0
    async with platform.db.session() as session:
        rows = (await session.execute(select(DatabaseBackup.user_id, DatabaseBackup.database_id).where(
            DatabaseBackup.kind == backups.BASE).distinct())).all()
        for user_id, db_id in rows:
            bases = await _bases(session, user_id, db_id)
            if not bases:
                continue
            bucket = await buckets.get_bucket(session, bases[0].bucket)
            page = await listing.list_objects(session, bucket, prefix=wal_prefix(bases[0]), max_keys=100_000)
            for row in page.objects:
                if aware(row.created_at) < aware(bases[0].created_at):
                    await objects.delete_object(platform, bucket, row.key)
                    gone += 1
    return gone


async def _flush(platform: Platform, session: AsyncSession, db: ManagedDatabase) -> None:
    """Close the current WAL segment, wait until the server archived it, and ship it: the archive
    then holds everything committed until now."""
    segment = await _sql(platform, db, "SELECT pg_walfile_name(pg_switch_wal())")

    async def archived() -> bool:
        last = await _sql(platform, db, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        return last >= segment
    await wait_until(archived, 60, f"archiving WAL of database {db.name}")
    await ship(platform, session, db)


async def _bases(session: AsyncSession, user_id: str, db_id: str) -> list[DatabaseBackup]:
    query = select(DatabaseBackup).where(
        DatabaseBackup.user_id == user_id, DatabaseBackup.database_id == db_id, DatabaseBackup.kind == backups.BASE,
        DatabaseBackup.status == backups.AVAILABLE).order_by(DatabaseBackup.created_at)
    return list((await session.scalars(query)).all())


def _consistent_at(b: DatabaseBackup) -> dt.datetime:
    return aware(dt.datetime.fromisoformat((b.source or {})["consistent_at"]))


async def restore_to_time(platform: Platform, session: AsyncSession, user: Principal, ref: str, name: str,
                          when: dt.datetime, public: bool | None, vpc_id: str | None) -> tuple[ManagedDatabase, str]:
    """A new database with the source's data as it was at ``when`` (to the second)."""
    source = await service.resolve(session, user, ref)
    if source.engine != "postgres":
        raise InvalidInput("point-in-time recovery is for PostgreSQL databases; restore a backup_id instead")
    when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    now = utcnow()
    oldest = now - dt.timedelta(days=source.backup_retention_days)
    bases = [b for b in await _bases(session, user.user_id, source.id) if _consistent_at(b) >= oldest]
    window = (f"from {_consistent_at(bases[0]).isoformat(timespec='seconds')} to now" if bases
              else "empty: take a backup first (POST /databases/{id}/backups)")
    usable = [b for b in bases if _consistent_at(b) <= when]
    if when > now or not usable:
        raise InvalidInput(f"restore_time {when.isoformat(timespec='seconds')} is outside the recovery window "
                           f"({window})")
    if source.status == convergence.AVAILABLE:
        await _flush(platform, session, source)
    base = usable[-1]
    bucket = await buckets.get_bucket(session, base.bucket)
    db, password = await service.create(platform, session, user,
                                        backups.restore_spec(base, name, public, vpc_id), restored_from=base.id)
    try:
        await _recover(platform, session, db, base, bucket, when, password)
    except CumuloError as exc:
        db.status, db.error = convergence.ERROR, f"point-in-time recovery failed: {exc.message}"
        await session.commit()
        raise
    events.record(session, user_id=user.user_id, action="database.restored", resource_type="database",
                          resource_id=db.id, backup_id=base.id, source_database_id=source.id,
                          restore_time=when.isoformat())
    await session.commit()
    return db, password


RECOVER = f"""set -eu
D={D}
find "$D" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {{}} +
tar -xzf /restore/base.tar.gz -C "$D"
rm -rf "$D/cumulo_wal" "$D/postmaster.pid"
mkdir -p "$D/cumulo_wal" "$D/cumulo_restore"
for f in /restore/wal/*.gz; do
  [ -e "$f" ] || continue
  gunzip -c "$f" > "$D/cumulo_restore/$(basename "$f" .gz)"
done
cat /restore/recovery.conf >> "$D/postgresql.auto.conf"
touch "$D/recovery.signal"
chown -R postgres:postgres "$D"
chmod 700 "$D"
"""


async def _recover(platform: Platform, session: AsyncSession, db: ManagedDatabase, base: DatabaseBackup,
                   bucket: Bucket, when: dt.datetime, password: str) -> None:
    c, cname = placement.containers(platform), convergence.container_name(db.id)
    await c.stop(cname)
    target = when.strftime("%Y-%m-%d %H:%M:%S.%f+00")
    conf = (f"restore_command = 'cp {D}/cumulo_restore/%f %p'\nrecovery_target_time = '{target}'\n"
            "recovery_target_action = 'promote'\n")
    store = blob_store(platform)
    with tempfile.TemporaryDirectory(dir=backupbucket.scratch(platform)) as tmp:
        staging = Path(tmp) / "staging.tar"
        with tarfile.open(staging, "w") as tar:
            await _add_blob(tar, store, await objects.read_version(platform, bucket, base.key), "restore/base.tar.gz",
                            Path(tmp))
            page = await listing.list_objects(session, bucket, prefix=wal_prefix(base), max_keys=100_000)
            for row in page.objects:
                if aware(row.created_at) < aware(base.created_at):
                    continue  # archived before the base began: not needed to replay it
                await _add_blob(tar, store, row, "restore/wal/" + row.key.rsplit("/", 1)[1], Path(tmp))
            info = tarfile.TarInfo("restore/recovery.conf")
            info.size = len(conf.encode())
            tar.addfile(info, io.BytesIO(conf.encode()))
        code, out = await c.oneshot(engines.POSTGRES.image, placement.disk_name(db.id), D, staging, RECOVER,
                                    placement.labels(platform, convergence.KIND, db.id, db.user_id))
    if code != 0:
        raise Conflict(f"the base backup did not unpack: {out.strip()[-300:]}")
    await c.ensure(convergence.spec(platform, db))

    async def promoted() -> bool:
        try:
            return await _sql(platform, db, "SELECT pg_is_in_recovery()") == "f"
        except (Conflict, Unavailable):
            return False
    try:
        await wait_until(promoted, convergence.READY_TIMEOUT, f"recovery of database {db.name}")
    except Unavailable:
        raise Conflict(f"the recovery did not finish: {(await c.logs(cname, 20)).strip()[-400:]}") from None
    await _sql(platform, db, "ALTER SYSTEM RESET restore_command")
    await _sql(platform, db, "ALTER SYSTEM RESET recovery_target_time")
    await _sql(platform, db, "ALTER SYSTEM RESET recovery_target_action")
    await c.run(cname, ["rm", "-rf", f"{D}/cumulo_restore"], user="postgres")
    argv, as_user = engines.set_password_command(engines.POSTGRES, db.username, password)
    code, out = await c.run(cname, argv, user=as_user)
    if code != 0:
        raise Conflict(f"the recovered server refused the new password: {out.strip()[:200]}")
    db.address = await convergence.bring_up(platform, db)


async def _add_blob(tar: tarfile.TarFile, store: Any, row: Any, arcname: str, tmp: Path) -> None:
    local = tmp / "blob"
    fh = await asyncio.to_thread(local.open, "wb")
    try:
        if getattr(row, "blob_id", None):
            async for chunk in await store.read(row.blob_id):
                await asyncio.to_thread(fh.write, chunk)
    finally:
        fh.close()
    await asyncio.to_thread(tar.add, str(local), arcname)
    local.unlink()

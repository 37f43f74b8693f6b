"""Database quota (checked in ``service.create``); the limits of Cumulo's backup account (``backupbucket``)."""

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.databases import backupbucket
from cumulo.services.databases.models import DatabaseBackup, ManagedDatabase
from cumulo.services.quotas.service import Quota, count_of

BACKUP_BYTES = "database_backup_bytes"
HELD = ("available", "creating")  # a failed backup holds nothing; a running one holds its reserved size


async def _backup_bytes(session: AsyncSession, user_id: str) -> float:
    return int(await session.scalar(select(func.coalesce(func.sum(DatabaseBackup.bytes), 0))
                                    .where(DatabaseBackup.user_id == user_id, DatabaseBackup.status.in_(HELD)))
               or 0)


QUOTAS = [Quota("databases", "quota_databases", count_of(ManagedDatabase), description="managed databases"),
          Quota(BACKUP_BYTES, "quota_database_backup_bytes", _backup_bytes, "bytes",
                description="bytes of database backups (dumps and base backups)")]
UNBOUNDED = {"buckets": float("inf"), "storage_bytes": float("inf"), "storage_objects": float("inf")}


async def LIMITS(session: AsyncSession, platform: Any, user_id: str) -> dict[str, float]:
    """Cumulo's backup account holds one bucket per user: the per-user S3 quotas do not apply to it."""
    return dict(UNBOUNDED) if await backupbucket.is_owner(session, user_id) else {}

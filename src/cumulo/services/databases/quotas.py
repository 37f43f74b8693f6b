"""Database quota (checked in ``service.create``); the limits of Cumulo's backup account (``backupbucket``)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.databases import backupbucket
from cumulo.services.databases.models import ManagedDatabase
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("databases", "quota_databases", count_of(ManagedDatabase), description="managed databases")]
UNBOUNDED = {"buckets": float("inf"), "storage_bytes": float("inf"), "storage_objects": float("inf")}


async def LIMITS(session: AsyncSession, platform: Any, user_id: str) -> dict[str, float]:
    """Cumulo's backup account holds one bucket per user: the per-user S3 quotas do not apply to it."""
    return dict(UNBOUNDED) if await backupbucket.is_owner(session, user_id) else {}

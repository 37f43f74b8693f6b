"""Image quotas (checked in ``service.start_build``): images a user holds, and builds at once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.images.models import Image
from cumulo.services.quotas.service import Quota, count_of


async def _building(session: AsyncSession, user_id: str) -> float:
    return int(await session.scalar(select(func.count(Image.id)).where(Image.user_id == user_id,
                                                                       Image.status == "BUILDING")) or 0)


QUOTAS = [Quota("images", "quota_images", count_of(Image), description="your images (READY, BUILDING or FAILED)"),
          Quota("image_builds", "quota_image_builds", _building, description="image builds running at once")]

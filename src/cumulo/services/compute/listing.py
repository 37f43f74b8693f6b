"""``GET /instances`` with server-side search and pagination: the caller's instances in launch order,
narrowed by ``?q=`` (name, image, status, IP address) and ``?status=``, one page of them
(``?limit=&offset=``), rendered with their volumes in one query for the whole page (not one per
instance: a list of a thousand stays one round of statements)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.principal import Principal
from cumulo.db import paging
from cumulo.services.compute.models import Instance
from cumulo.services.compute.schemas import InstanceOut
from cumulo.services.compute.service import instance_out
from cumulo.services.volumes import service as volumes

SEARCHED = (Instance.name, Instance.image, Instance.status, Instance.ip_address, Instance.ipv4_address)


async def page(session: AsyncSession, user: Principal, asked: paging.Page) -> tuple[list[InstanceOut], int]:
    stmt = select(Instance).where(Instance.user_id == user.user_id).order_by(Instance.created_at, Instance.id)
    rows, total = await paging.page(session, stmt, asked, SEARCHED, Instance.status)
    mounts = await volumes.mounts_for_instances(session, [i.id for i in rows])
    return [instance_out(i, [{"volume": m.source, "mount_path": m.target} for m in mounts[i.id]]) for i in rows], total

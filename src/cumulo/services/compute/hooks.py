"""What compute gives the services below it (through ``cumulo.ports``): instances resolved by id or
name for their owner, the instances that use an image (its delete guard), and a note that an
instance is about to be recreated (volumes attached or detached)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.services.compute import service
from cumulo.services.compute.models import Instance


async def resolve_instance(session: AsyncSession, user_id: str, ref: str) -> str:
    return str((await service.get_instance(session, user_id, ref)).id)


async def instances_using_image(session: AsyncSession, user_id: str, image_ref: str) -> list[str]:
    return list((await session.scalars(select(Instance.name).where(Instance.user_id == user_id,
                                                                   Instance.image_ref == image_ref))).all())


ports.resolvers.add("instance", resolve_instance)
ports.users.add("image", "instance", instances_using_image)
ports.reconfigures.add("instance", service.note_reconfigure)

"""Detach the volumes of a deleted instance (the compute service publishes ``instance.deleted``)."""

from __future__ import annotations

from cumulo.core.events import Event
from cumulo.platform import Platform
from cumulo.services.volumes import service


async def startup(platform: Platform) -> None:
    async def released(event: Event) -> None:
        if event.topic == "instance.deleted" and event.resource_id:
            async with platform.db.session() as session:
                await service.release_instance(session, event.resource_id)
                await session.commit()

    platform.bus.subscribe("instance.deleted", released)

"""The one place the volume service asks about instances: compute sits above volumes, so it answers
through ``cumulo.ports`` (filled by ``services/compute/hooks.py``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.events import Event
from cumulo.core.principal import Principal
from cumulo.platform import Platform

ROOT_RESET_WARNING = ("the instance's container is recreated to add or remove the mount: its root filesystem is "
                      "reset to the image (files written outside volumes are lost); its address and host ports "
                      "are kept")


async def owned_instance_id(session: AsyncSession, user: Principal, ref: str) -> str:
    """The id of the caller's instance ``ref`` (id or name); 404 when missing or someone else's."""
    return await ports.resolve("instance", session, user.user_id, ref)


async def will_recreate(session: AsyncSession, instance_id: str, reason: str) -> bool:
    """Tell the compute service why the instance's container is about to be recreated (in the
    caller's transaction; its ``instance.recreated`` event carries ``reason``). True when the
    instance has a container, whose root filesystem the recreation resets."""
    return await ports.reconfigure("instance", session, instance_id, reason)


def reconfigure(platform: Platform, instance_id: str, user_id: str) -> None:
    """After the commit: the compute service recreates the container with the new mounts."""
    platform.bus.publish(Event("instance.reconfigure", resource_id=instance_id, user_id=user_id))

"""The one place the volume service asks about instances (owned by the compute service)."""

from __future__ import annotations

import importlib
from types import ModuleType

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Unavailable
from cumulo.core.events import Event
from cumulo.core.principal import Principal
from cumulo.platform import Platform

ROOT_RESET_WARNING = ("the instance's container is recreated to add or remove the mount: its root filesystem is "
                      "reset to the image (files written outside volumes are lost); its address and host ports "
                      "are kept")


def _compute() -> ModuleType:
    try:
        return importlib.import_module("cumulo.services.compute.service")
    except ImportError as exc:
        raise Unavailable("the compute service is not installed") from exc


async def owned_instance_id(session: AsyncSession, user: Principal, ref: str) -> str:
    """The id of the caller's instance ``ref`` (id or name); 404 when missing or someone else's."""
    instance = await _compute().get_instance(session, user, ref)
    return str(instance.id)


async def will_recreate(session: AsyncSession, instance_id: str, reason: str) -> bool:
    """Tell the compute service why the instance's container is about to be recreated (in the
    caller's transaction; its ``instance.recreated`` event carries ``reason``). True when the
    instance has a container, whose root filesystem the recreation resets."""
    return bool(await _compute().note_reconfigure(session, instance_id, reason))


def reconfigure(platform: Platform, instance_id: str, user_id: str) -> None:
    """After the commit: the compute service recreates the container with the new mounts."""
    platform.bus.publish(Event("instance.reconfigure", resource_id=instance_id, user_id=user_id))

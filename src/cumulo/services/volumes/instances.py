"""The one place the volume service asks about instances (owned by the compute service)."""

from __future__ import annotations

import importlib

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Unavailable
from cumulo.core.principal import Principal


async def owned_instance_id(session: AsyncSession, user: Principal, ref: str) -> str:
    """The id of the caller's instance ``ref`` (id or name); 404 when missing or someone else's."""
    try:
        compute = importlib.import_module("cumulo.services.compute.service")
    except ImportError as exc:
        raise Unavailable("the compute service is not installed") from exc
    instance = await compute.get_instance(session, user, ref)
    return str(instance.id)

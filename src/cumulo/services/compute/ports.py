"""Host ports of instances: only from the operator's range, one instance per port, checked free.

``reserve`` runs in the launch's transaction, before anything is created: every host port must lie
in ``CUMULO_HOST_PORT_RANGE`` (400 otherwise: privileged ports and anything outside), must not be
held by another instance of this installation (a row per port in ``instance_host_ports``, taken
under one database lock) nor by any process on the host (we try to bind it on
``CUMULO_COMPUTE_PUBLISH_HOST``); a taken port is 409 ``PORT_IN_USE``. Host port 0 becomes a free
port of the range, chosen here and recorded, so the instance keeps it when its container is
recreated (a volume attached, a reboot of the engine).
"""

from __future__ import annotations

import random

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.config import parse_port_range
from cumulo.core.errors import InvalidInput
from cumulo.db import locks
from cumulo.drivers.compute.base import ComputeDriver, PortBinding, PortInUse
from cumulo.platform import Platform
from cumulo.services.compute.models import HostPort

LOCK = "compute:host-ports"
PROBES = 200  # free-port candidates tried before giving up


async def reserve(platform: Platform, session: AsyncSession, instance_id: str, user_id: str,
                  bindings: list[PortBinding]) -> list[PortBinding]:
    """The bindings with every host port fixed and recorded for the instance (no commit)."""
    if not bindings:
        return []
    low, high = parse_port_range(platform.settings.host_port_range)
    outside = [b.host for b in bindings if b.host and not low <= b.host <= high]
    if outside:
        raise InvalidInput(f"host port {outside[0]} is outside the range this server publishes "
                           f"({low}-{high}, CUMULO_HOST_PORT_RANGE); use 0 to get a free one",
                           details={"range": f"{low}-{high}"})
    host = platform.settings.compute_publish_host
    await locks.hold(session, LOCK)  # until the launch commits: two launches never pick one port
    taken = set((await session.scalars(select(HostPort.port))).all())
    fixed: list[PortBinding] = []
    for b in bindings:
        if b.host:
            if b.host in taken or not ComputeDriver.port_free(host, b.host):
                raise PortInUse(f"host port {b.host} is already in use on this server: choose another one, or 0 "
                                "for a free one", details={"port": b.host})
            port = b.host
        else:
            port = _free_port(host, low, high, taken)
        taken.add(port)
        fixed.append(PortBinding(port, b.container, b.protocol))
    for b in fixed:
        session.add(HostPort(port=b.host, instance_id=instance_id, user_id=user_id))
    return fixed


def _free_port(host: str, low: int, high: int, taken: set[int]) -> int:
    span = high - low + 1
    start = random.randrange(span)  # a random start spreads concurrent servers over the range
    tried = 0
    for offset in range(span):
        port = low + (start + offset) % span
        if port in taken:
            continue
        if ComputeDriver.port_free(host, port):
            return port
        tried += 1
        if tried >= PROBES:
            break
    raise PortInUse(f"no free host port is left in {low}-{high} (CUMULO_HOST_PORT_RANGE)")


async def release(session: AsyncSession, instance_id: str) -> None:
    """Give back the instance's ports (in the caller's transaction)."""
    await session.execute(delete(HostPort).where(HostPort.instance_id == instance_id))

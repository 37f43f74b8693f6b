"""The outbox consumer: turns every recorded state change of a billable resource into what the
meter knows of it (``Meter`` rows: spec, running since, closed runs). Written in the consumer's
transaction, so each event counts exactly once, across restarts and processes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.runtime.outbox import Entry as Event
from cumulo.services.billing import ledger
from cumulo.services.billing.models import Account, Meter, Price

CONSUMER = "billing.meter"
RUNNING = {"instance.launched", "instance.started", "instance.running", "instance.rebooted"}
ENDED = {"instance.stopped", "instance.failed", "instance.launch_failed", "instance.deleted", "instance.expired",
         "instance.launch_aborted"}
# resources whose usage their service declares (``cumulo.ports.usage``, read by ``declared``): their
# deletion ends their meters at the moment it was recorded
DECLARED = ("database", "cache", "loadbalancer", "function", "app")
# the meters of a declared resource besides its own (a database's storage, billed while it exists)
PARTS = {"database": ("database_storage",)}
GONE = {"instance.deleted", "instance.expired", "instance.launch_aborted", "volume.deleted", "disk.deleted"}
# block storage: volumes, and VMs' disks (made, uploaded, or cloned once the copy is done), priced alike:
# per GB once when made, per GiB-month while they exist on plans that say so
STORAGE = {"volume": ("volumes", {"volume.created"}), "disk": ("disks", {"disk.created", "disk.uploaded",
                                                                         "disk.clone_done"})}


def new_meter(kind: str, service: str, resource_id: str, user_id: str, name: str, spec: dict[str, Any],
              created: dt.datetime, suffix: str = "") -> Meter:
    return Meter(id=f"{kind}:{resource_id}{suffix}", user_id=user_id, service=service, resource_type=kind,
                 resource_id=resource_id, name=name[:100], spec=spec, running_since=None, segments=[],
                 rated_until=None, cap_month="", cap_used=0, gone=False, created_at=created)


def _start(meter: Meter, when: dt.datetime) -> None:
    if meter.running_since is None:
        meter.running_since = when


def _end(meter: Meter, when: dt.datetime) -> None:
    if meter.running_since is not None:
        start = aware(meter.running_since)
        meter.segments = [*(meter.segments or []), [start.isoformat(), max(when, start).isoformat()]]
        meter.running_since = None


async def handle(session: AsyncSession, event: Event) -> None:
    if not event.resource_id or not event.user_id:
        return
    usage = event.data.get("usage")
    if isinstance(usage, dict) and usage.get("meter"):
        await _state(session, event, usage)
    elif event.resource_type == "instance":
        await _instance(session, event)
    elif event.resource_type in STORAGE:
        await _storage(session, event)
    elif event.action == f"{event.resource_type}.deleted" and event.resource_type in DECLARED:
        await _deleted(session, event)
    elif event.action == "loadbalancer.created":  # billed from its creation, even if gone by the next pass
        await _exists(session, event, "loadbalancers")


async def _instance(session: AsyncSession, event: Event) -> None:
    meter_id = f"instance:{event.resource_id}"
    meter = await session.get(Meter, meter_id)
    if event.action == "instance.created":
        if meter is None:
            session.add(Meter(id=meter_id, user_id=event.user_id, service="compute", resource_type="instance",
                              resource_id=event.resource_id, name=str(event.data.get("name", ""))[:100],
                              spec={"cpus": float(event.data.get("cpus") or 1),
                                    "memory_mb": int(event.data.get("memory_mb") or 512)},
                              segments=[], cap_used=0, cap_month="", gone=False, created_at=event.created_at))
        return
    if meter is None:
        return  # created before the events were kept: nothing known to rate it by
    # a container recreated while running carries its ports; one recreated while stopped does not
    if event.action in RUNNING or (event.action == "instance.recreated" and "ports" in event.data):
        _start(meter, event.created_at)
    elif event.action in ENDED:
        _end(meter, _stopped(event))
    if event.action == "instance.updated" and event.data.get("name"):
        meter.name = str(event.data["name"])[:100]
    if event.action in GONE:
        meter.gone = True


def _stopped(event: Event) -> dt.datetime:
    """When the run really ended: the stop time the engine gave (``stopped_at``: a container that
    exited on its own, noticed by the reconciler later), never after the event itself."""
    noticed = aware(event.created_at)
    given = event.data.get("stopped_at")
    if not isinstance(given, str) or not given:
        return noticed
    try:
        moment = aware(dt.datetime.fromisoformat(given))
    except ValueError:
        return noticed
    return min(moment, noticed)


async def _storage(session: AsyncSession, event: Event) -> None:
    kind = event.resource_type
    service, made = STORAGE[kind]
    meter_id = f"{kind}:{event.resource_id}"
    meter = await session.get(Meter, meter_id)
    if event.action in made and meter is None:
        size = int(event.data.get("size_gb") or 0)
        name = str(event.data.get("name", ""))[:100]
        session.add(Meter(id=meter_id, user_id=event.user_id, service=service, resource_type=kind,
                          resource_id=event.resource_id, name=name, spec={"size_gb": size},
                          running_since=event.created_at, segments=[], cap_used=0, cap_month="", gone=False,
                          created_at=event.created_at))
        if event.user_id is not None and await session.get(Account, event.user_id) is not None:  # billed users only
            price = await session.scalar(select(Price.amount).where(Price.key == "volume.gb_once")) or 0
            if price * size:
                await ledger.post(session, [ledger.line(
                    f"{meter_id}:created", event.user_id, "charge", -price * size, ledger.month_of(event.created_at),
                    service=service, resource_type=kind, resource_id=event.resource_id, quantity=size,
                    unit="GB", description=f"{kind} {name}: {size} GB, once at creation",
                    period_start=event.created_at, period_end=event.created_at)])
    elif meter is not None and event.action in GONE:
        _end(meter, event.created_at)
        meter.gone = True


async def _deleted(session: AsyncSession, event: Event) -> None:
    kinds = (event.resource_type, *PARTS.get(event.resource_type, ()))
    meters = (await session.scalars(select(Meter).where(Meter.resource_type.in_(kinds),
                                                        Meter.resource_id == event.resource_id,
                                                        Meter.gone.is_(False)))).all()
    for meter in meters:
        _end(meter, event.created_at)
        meter.gone = True


async def _exists(session: AsyncSession, event: Event, service: str) -> None:
    meter_id = f"{event.resource_type}:{event.resource_id}"
    if await session.get(Meter, meter_id) is None:
        session.add(Meter(id=meter_id, user_id=event.user_id, service=service, resource_type=event.resource_type,
                          resource_id=event.resource_id, name=str(event.data.get("name", ""))[:100], spec={},
                          running_since=event.created_at, segments=[], cap_used=0, cap_month="", gone=False,
                          created_at=event.created_at))


def _known(meter: Meter) -> dt.datetime:
    """The latest moment the meter knows of: its run's start, its last closed run's end, its making."""
    moments = [aware(meter.created_at)]
    if meter.running_since is not None:
        moments.append(aware(meter.running_since))
    if meter.segments:
        moments.append(aware(dt.datetime.fromisoformat(meter.segments[-1][1])))
    return max(moments)


async def _state(session: AsyncSession, event: Event, usage: dict[str, Any]) -> None:
    """A declared resource's change of state, at its moment (``usage``: ``{meter, active, spec, at}``,
    recorded by its service in the transaction of the change): a resize ends the meter and opens one
    at the new size (``<type>:<id>:r<moment>``); becoming active starts the run, leaving it ends it.
    Events come in commit order, so every interval between two passes is billed as it was."""
    from cumulo import ports

    kind, rid = str(usage["meter"]), str(event.resource_id)
    source = ports.usage.get(kind)
    service = source.service if source is not None else f"{event.resource_type}s"
    at = aware(dt.datetime.fromisoformat(str(usage["at"]))) if usage.get("at") else aware(event.created_at)
    spec, name = dict(usage.get("spec") or {}), str(event.data.get("name") or "")[:100]
    open_meters = (await session.scalars(select(Meter).where(Meter.resource_type == kind, Meter.resource_id == rid,
                                                             Meter.gone.is_(False)))).all()
    m = max(open_meters, key=lambda x: aware(x.created_at)) if open_meters else None
    if m is not None and at < _known(m):
        return  # older than what the meter knows (made from the row by a pass that ran before this event)
    suffix = f":r{at.strftime('%Y%m%dT%H%M%S%f')}"
    if m is not None and (m.spec or {}) != spec:  # resized: each size rated for its own part
        _end(m, at)
        m.gone = True
        m = None
    if m is None:
        m = new_meter(kind, service, rid, str(event.user_id), name, spec, at,
                      "" if await session.get(Meter, f"{kind}:{rid}") is None else suffix)
        session.add(m)
    if name and m.name != name:
        m.name = name
    if usage.get("active") and m.running_since is None:
        _start(m, at)
    elif not usage.get("active") and m.running_since is not None:
        _end(m, at)

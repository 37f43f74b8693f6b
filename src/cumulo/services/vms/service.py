"""VirtCloud's request shapes mapped onto the compute and disks use cases (no state of its own)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import InvalidInput, NotFound
from cumulo.core.principal import Principal
from cumulo.platform import Platform
from cumulo.services.billing import service as billing
from cumulo.services.compute import service as compute
from cumulo.services.compute.models import Instance
from cumulo.services.disks import service as disks
from cumulo.services.disks.models import Disk
from cumulo.services.disks.schemas import DiskConvert, DiskCreate, DiskRename, DiskResize


def _valid(model: type[Any], **fields: Any) -> Any:
    """Cumulo's request model from VirtCloud's fields: what it refuses is a 400, never a 500."""
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc


SIZE = re.compile(r"^\+?(\d{1,6})\s*([GgMmTt]?)$")  # VirtCloud's "10G" / "+5G"


def gib(text: str | int) -> int:
    """VirtCloud's size strings in whole GiB (M rounds up, T is 1024 G)."""
    found = SIZE.match(str(text).strip())
    if not found:
        raise InvalidInput(f"size {text!r}: give a number of GiB like '10G' (or '+5G' to grow)")
    n, unit = int(found.group(1)), found.group(2).upper()
    return {"M": -(-n // 1024), "T": n * 1024}.get(unit, n)


async def vms(session: AsyncSession, user: Principal) -> list[Instance]:
    return [i for i in await compute.list_instances(session, user) if (i.meta or {}).get("backend") == "vm"]


async def vm(session: AsyncSession, user: Principal, ref: str) -> Instance:
    inst = await compute.get_instance(session, user, ref)
    if (inst.meta or {}).get("backend") != "vm":
        raise NotFound(f"no VM '{ref}'")  # a container is not one of VirtCloud's VMs
    return inst


async def runtime(session: AsyncSession, user: Principal) -> dict[str, Any]:
    """Per VM: status, size, running time and cost (VirtCloud's /vm/stats/runtime), the hours and
    credits from the billing service (what ``/billing/usage`` says, the open day's part included)."""
    now, rows, total = utcnow(), [], 0.0
    machines = await vms(session, user)
    starts = [a for i in machines if (a := aware(i.created_at)) is not None]
    since = min(starts, default=now)
    billed = await billing.resource_runtime(session, user.user_id, "instance", since, now) if machines else {}
    for inst in machines:
        started = aware(inst.started_at) if inst.status == "RUNNING" else None
        session_minutes = round((now - started).total_seconds() / 60, 2) if started else 0.0
        bill = billed.get(inst.id) or {"hours": 0.0, "cost": 0.0, "pending": 0.0, "hourly_rate": 0.0}
        cost = round(bill["cost"] + bill["pending"], 6)
        total += cost
        rows.append({"id": inst.id, "name": inst.name, "status": inst.status, "cpu_count": inst.cpus,
                     "ram_gb": round(inst.memory_mb / 1024, 3), "total_runtime_minutes": round(bill["hours"] * 60, 2),
                     "current_session_minutes": session_minutes, "launched_at": aware(inst.launched_at),
                     "hourly_rate": bill["hourly_rate"], "total_cost": cost,
                     "current_session_cost": round(bill["hourly_rate"] * session_minutes / 60, 6)})
    return {"vms": rows, "current_total_cost": round(total, 6)}


async def disk_named(session: AsyncSession, user: Principal, name: str) -> Disk:
    """A disk by VirtCloud's file-like name (``data.qcow2`` or ``data``)."""
    return await disks.get(session, user, _stem(name))


def _stem(name: str) -> str:
    base, _, ext = name.rpartition(".")
    return base if base and ext in ("qcow2", "raw", "vmdk", "vdi") else name


async def create_disk(platform: Platform, session: AsyncSession, user: Principal, body: dict[str, Any]) -> Disk:
    fmt = str(body.get("format") or "qcow2")
    return await disks.create(platform, session, user, _valid(DiskCreate, name=str(body.get("name") or ""),
                                                              size_gb=gib(body.get("size", "")), format=fmt))


async def resize_disk(platform: Platform, session: AsyncSession, user: Principal, name: str, by: str) -> Disk:
    d = await disk_named(session, user, name)
    grow = str(by).strip().startswith("+")
    size = d.size_gb + gib(by) if grow else gib(by)
    return await disks.resize(platform, session, user, d.id, _valid(DiskResize, size_gb=size))


async def convert_disk(platform: Platform, session: AsyncSession, user: Principal, name: str, fmt: str) -> Disk:
    d = await disk_named(session, user, name)
    return await disks.convert(platform, session, user, d.id, _valid(DiskConvert, format=fmt))


async def rename_disk(session: AsyncSession, user: Principal, current: str, new: str) -> Disk:
    d = await disk_named(session, user, current)
    return await disks.rename(session, user, d.id, _valid(DiskRename, name=_stem(new)))

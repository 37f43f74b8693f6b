"""Per-user quotas: a registry that every service fills, and the race-safe check before an insert.

A service declares its quotas in ``services/<name>/quotas.py`` (discovered by folder, nothing to
register elsewhere)::

    from cumulo.services.quotas.service import Quota

    async def _queues(session, user_id):
        return await session.scalar(select(func.count(Queue.id)).where(Queue.user_id == user_id)) or 0

    QUOTAS = [Quota("queues", "quota_queues", _queues)]   # or: Quota("queues", "quota_queues", count_of(Queue))

``Quota.setting`` names the ``Settings`` field holding the limit (``CUMULO_QUOTA_QUEUES``); ``usage``
counts what the user has now, in the caller's session. Then, in the create path, before the insert
and inside the same transaction::

    await quotas.check(session, platform, user.user_id, "queues")        # add=1
    session.add(Queue(...)); ...; await session.commit()

``check`` takes the user's quota lock (``cumulo.db.locks.hold(session, "quota:<user_id>")``, held
until the commit or rollback, in every process on this database), so two concurrent creates cannot
both pass; then it raises ``QuotaExceeded`` (403 ``QUOTA_EXCEEDED``) when ``used + add > limit``.
``check_many`` does several kinds at once (e.g. a function's count and its memory x concurrency).
``report`` answers ``GET /quotas``: every kind with its limit, use, unit and setting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import services
from cumulo.core.errors import QuotaExceeded
from cumulo.db import locks

Usage = Callable[[AsyncSession, str], Awaitable[float]]


@dataclass(frozen=True)
class Quota:
    kind: str  # e.g. "queues"; unique across services
    setting: str  # the Settings field with the limit, e.g. "quota_queues" (CUMULO_QUOTA_QUEUES)
    usage: Usage  # what the user holds now, counted in the caller's session
    unit: str = "count"  # count, bytes, GiB, MB, vCPUs ...
    description: str = ""


def count_of(model: Any) -> Usage:
    """The usual usage: how many rows of ``model`` the user owns (``model.user_id``)."""
    async def usage(session: AsyncSession, user_id: str) -> float:
        return int(await session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id)) or 0)
    return usage


@lru_cache(maxsize=1)
def registry() -> dict[str, Quota]:
    """Every declared quota by kind, from each service's ``quotas.py`` (``QUOTAS``)."""
    found: dict[str, Quota] = {}
    for name, module in services.modules("quotas"):
        for quota in getattr(module, "QUOTAS", ()):
            if quota.kind in found:
                raise RuntimeError(f"quota kind {quota.kind!r} declared twice (service {name})")
            found[quota.kind] = quota
    return found


@lru_cache(maxsize=1)
def limit_sources() -> list[Callable[[AsyncSession, Any, str], Awaitable[dict[str, float]]]]:
    """``LIMITS`` of each service's ``quotas.py``: per-user limits that override the settings (billing:
    the user's plan)."""
    return [module.LIMITS for _name, module in services.modules("quotas") if hasattr(module, "LIMITS")]


async def limits_for(session: AsyncSession, platform: Any, user_id: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for source in limit_sources():
        found.update(await source(session, platform, user_id))
    return found


@lru_cache(maxsize=1)
def admission_checks() -> list[Callable[[AsyncSession, Any, str], Awaitable[None]]]:
    """``ADMIT`` of each service's ``quotas.py``: raised before a create (billing: 402 at zero balance)."""
    return [module.ADMIT for _name, module in services.modules("quotas") if hasattr(module, "ADMIT")]


async def admit(session: AsyncSession, platform: Any, user_id: str, wanted: dict[str, float]) -> None:
    """For a create path that keeps its own limit checks on the settings (compute): every service's
    admission check, then the limits that override the settings (a plan's) for ``wanted``. Call it
    with the user's quota lock held."""
    for check in admission_checks():
        await check(session, platform, user_id)
    overrides = await limits_for(session, platform, user_id)
    if any(kind in overrides for kind in wanted):
        await check_many(session, platform, user_id, {k: v for k, v in wanted.items() if k in overrides}, lock=False)


def quota(kind: str) -> Quota:
    try:
        return registry()[kind]
    except KeyError:
        raise RuntimeError(f"no quota declared for kind {kind!r}") from None


def limit(platform: Any, kind: str) -> float:
    return getattr(platform.settings, quota(kind).setting)  # type: ignore[no-any-return]


def _number(value: float) -> int | float:
    value = float(value or 0)
    return int(value) if value.is_integer() else value


def _env(setting: str) -> str:
    return f"CUMULO_{setting.upper()}"


def refuse(q: Quota, used: float, add: float, cap: float) -> QuotaExceeded:
    unit = "" if q.unit == "count" else f" {q.unit}"
    return QuotaExceeded(
        f"{q.kind} quota exceeded: {_number(used):g}{unit} used + {_number(add):g} requested > limit "
        f"{_number(cap):g}{unit} ({_env(q.setting)}); delete some first or ask your administrator",
        details={"kind": q.kind, "used": _number(used), "requested": _number(add), "limit": _number(cap),
                 "setting": _env(q.setting)})


async def check_many(session: AsyncSession, platform: Any, user_id: str, wanted: dict[str, float], *,
                     lock: bool = True) -> None:
    """Take the user's quota lock, then refuse when any ``used + add > limit``. Call it in the
    transaction that inserts the resource, before the insert; the lock lasts until its commit.
    ``lock=False``: a quick early check only (before slow work), to be repeated with the lock."""
    if lock:
        await locks.hold(session, f"quota:{user_id}")
    overrides = await limits_for(session, platform, user_id) if any(add > 0 for add in wanted.values()) else {}
    for kind, add in wanted.items():
        if add <= 0:
            continue
        q = quota(kind)
        cap = overrides.get(kind, getattr(platform.settings, q.setting))
        used = float(await q.usage(session, user_id) or 0)
        if used + add > cap + 1e-9:
            raise refuse(q, used, add, cap)


async def check(session: AsyncSession, platform: Any, user_id: str, kind: str, add: float = 1, *,
                lock: bool = True) -> None:
    await check_many(session, platform, user_id, {kind: add}, lock=lock)


async def report(session: AsyncSession, platform: Any, user_id: str) -> list[dict[str, Any]]:
    out = []
    overrides = await limits_for(session, platform, user_id)
    for kind, q in sorted(registry().items()):
        out.append({"kind": kind, "limit": _number(overrides.get(kind, getattr(platform.settings, q.setting))),
                    "used": _number(await q.usage(session, user_id)), "unit": q.unit,
                    "setting": _env(q.setting), "description": q.description})
    return out


"""Usage the services declare through ``cumulo.ports.usage`` (billing reads no other service's table).

- States (managed databases, caches, load balancers). Databases and caches are ``evented``: their
  service records every change of status or size as an audit event carrying its ``usage`` (active,
  spec, the exact moment; ``databases.transitions``), which ``usage_events`` follows in commit order,
  so a stop and a start between two passes are both billed at their moments; a pass only makes the
  meter of a row that never had one and ends those whose row is gone. For the others, every pass
  holds each resource's meter to what its row says. A resource that became active (available, or existing) runs from the moment its row
  changed; one no longer active ends then; a resize (another spec) ends the meter and opens a new one
  (``<type>:<id>:r<moment>``), so each part is rated at its own size; a deleted resource ends at its
  ``<type>.deleted`` event (``usage_events``), or at the pass that no longer finds it. The meters are
  then rated like instances' (per second, 60 s minimum, a monthly cap).
- Consumption (functions; S3 requests per bucket): every pass adds what each resource used since the last pass (the window
  ``[read until, horizon)``, one ``usage:<type>`` row keeps its end) to the resource's meter for the open
  day; the pass that closes a day posts one line per resource and quantity (key
  ``<type>:<id>:<day>:<quantity>``). Counting as it goes keeps what a function used before it was
  deleted (its invocations go with it) or before its invocations' retention ran out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware
from cumulo.services.billing import ledger, rating
from cumulo.services.billing.models import Meter
from cumulo.services.billing.usage_events import _end, _start
from cumulo.services.billing.usage_events import new_meter as _meter

if TYPE_CHECKING:
    from cumulo.services.billing.meter import Pass

MARK = "usage"  # resource_type of the rows that keep where each consumption source was read until
# quantity -> (price key: ``<type>.<suffix>``, or a whole key with a dot; units per price unit; unit shown
# in the ledger)
QUANTITIES = {"invocations": ("million_invocations", 1_000_000, "invocation"),
              "gb_seconds": ("gb_second", 1, "GB-second"),
              "put_requests": ("storage.thousand_put_requests", 1000, "PUT/COPY/POST/LIST request"),
              "get_requests": ("storage.thousand_get_requests", 1000, "GET/HEAD request")}


def price_key(kind: str, quantity: str) -> str:
    suffix = QUANTITIES[quantity][0]
    return suffix if "." in suffix else f"{kind}.{suffix}"


async def sync_states(session: AsyncSession, now: dt.datetime, settled: dt.datetime) -> None:
    """Hold the meters of every declared resource to what its row says now; for the resources whose
    changes come as events (``evented``), only make the meter of one that never had one (a row older
    than ``settled``, whose events would have been read by now: made before its service recorded them)
    and end those whose row is gone."""
    for kind, source in ports.usage:
        if source.states is None:
            continue
        found = {u.resource_id: u for u in await source.states(session)}
        current = {m.resource_id: m for m in (await session.scalars(
            select(Meter).where(Meter.resource_type == kind, Meter.gone.is_(False)))).all()}
        for rid, u in found.items():
            since = min(aware(u.since), now)
            m = current.get(rid)
            if source.evented:
                if m is None and since < settled and await session.get(Meter, f"{kind}:{rid}") is None:
                    m = _meter(kind, source.service, rid, u.user_id, u.name, dict(u.spec), since)
                    session.add(m)
                    if u.active:
                        _start(m, since)
                continue
            if m is not None and (m.spec or {}) != u.spec:  # resized: each size rated for its own part
                _end(m, since)
                m.gone = True
                m = _meter(kind, source.service, rid, u.user_id, u.name, dict(u.spec), since,
                           f":r{since.strftime('%Y%m%dT%H%M%S%f')}")
                session.add(m)
            elif m is None:
                m = _meter(kind, source.service, rid, u.user_id, u.name, dict(u.spec), since)
                session.add(m)
            if m.name != u.name[:100]:
                m.name = u.name[:100]
            if u.active and m.running_since is None:
                _start(m, since)
            elif not u.active and m.running_since is not None:
                _end(m, since)
        for rid, m in current.items():
            if rid not in found:  # deleted, and its event not handled (yet)
                _end(m, now)
                m.gone = True
    await session.flush()


def _amounts(p: Pass, kind: str, used: dict[str, Any]) -> dict[str, int]:
    out = {}
    for quantity, value in used.items():
        if quantity in QUANTITIES:
            per = QUANTITIES[quantity][1]
            out[quantity] = round(p.prices.get(price_key(kind, quantity), 0) * float(value) / per)
    return out


def _post_day(p: Pass, m: Meter, day: dt.datetime) -> None:
    label, month = p.label(day)
    used = {k: v for k, v in (m.spec or {}).items() if k != "day"}
    for quantity, amount in _amounts(p, m.resource_type, used).items():
        if amount <= 0:
            continue
        unit = QUANTITIES[quantity][2]
        value = float(used[quantity])
        p.rows.append(ledger.line(f"{m.id}:{label}:{quantity}", m.user_id, "charge", -amount, month,
                                  service=m.service, resource_type=m.resource_type, resource_id=m.resource_id,
                                  quantity=round(value, 6), unit=unit,
                                  description=f"{m.resource_type} {m.name}: {value:g} {unit}s",
                                  period_start=day, period_end=day + rating.SLOT, created_at=p.now))


async def consume(session: AsyncSession, p: Pass) -> None:
    """Add every consumption source's usage since the last pass to its meters; post the closed days."""
    for kind, source in ports.usage:
        if source.consumed is not None:
            await _consume(session, p, kind, source, source.consumed)


Consume = Callable[[AsyncSession, dt.datetime, dt.datetime], Awaitable[list[ports.Consumed]]]


async def _consume(session: AsyncSession, p: Pass, kind: str, source: ports.Meterable, consumed: Consume) -> None:
    mark = await session.get(Meter, f"{MARK}:{kind}")
    if mark is None:  # the first pass ever: from the start of its day
        mark = _meter(MARK, source.service, kind, "", f"{kind} usage read until", {}, p.now)
        session.add(mark)
    meters = {m.resource_id: m for m in (await session.scalars(select(Meter).where(Meter.resource_type == kind))).all()}
    start = aware(mark.rated_until) or rating.floor_slot(p.horizon)
    while start < p.horizon:
        day = rating.floor_slot(start)
        end = min(day + rating.SLOT, p.horizon)
        label, _month = p.label(day)
        for c in await consumed(session, start, end):
            if c.user_id not in p.accounts:
                continue  # not billed
            m = meters.get(c.resource_id)
            if m is None:
                m = meters[c.resource_id] = _meter(kind, source.service, c.resource_id, c.user_id, c.name, {}, start)
                session.add(m)
            used: dict[str, Any] = dict(m.spec or {}) if (m.spec or {}).get("day") == label else {"day": label}
            for quantity, value in c.quantities.items():
                used[quantity] = used.get(quantity, 0) + value
            m.spec, m.name = used, c.name[:100]
        if end == day + rating.SLOT:  # the day closed: its lines
            for m in meters.values():
                if (m.spec or {}).get("day") == label:
                    _post_day(p, m, day)
                    m.spec = {}
        start = end
    mark.rated_until = start
    for m in meters.values():
        if (m.spec or {}).get("day"):  # the open day: pending in the balance
            open_part = sum(_amounts(p, kind, m.spec).values())
            p.accrued[m.user_id] = p.accrued.get(m.user_id, 0) + open_part
        elif m.gone:
            await session.delete(m)

"""Runs that ended inside days already charged: the refund of what those days were over-charged.

A closed day is charged with every run still open rated as running through the day's end. When a
run's end is learnt later, at a moment before the meter's ``rated_until`` (a crash noticed after its
day closed: ``instance.failed`` with Docker's stop time, a managed server or an app's replica recorded
at the moment it really stopped), the charged days from that moment on cost less than they were
charged: each gets one ``refund`` line (key ``<meter>:<day>:refund``: posted once, however many
passes run), in the charge's month (the current one if that month was already invoiced).

A day's refund is its charge less what it should have cost: the run's true seconds (the 60 s minimum
kept for a short run, ``rating.seconds_in``) under the charge as written (the monthly cap had already
waived the last part of a capped day; the refund never gives back more than the day's line took)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.services.billing import ledger, rating
from cumulo.services.billing.models import Entry

if TYPE_CHECKING:
    from cumulo.services.billing.meter import Pass, State

Late = tuple[dt.datetime, dt.datetime]  # (start, end) of a run that ended before its meter's rated_until


def late_runs(meter: State) -> list[Late]:
    """The meter's closed runs that ended before the days already charged did."""
    until = aware(meter.rated_until)
    if until is None or not meter.segments:
        return []
    runs = [(aware(dt.datetime.fromisoformat(s)), aware(dt.datetime.fromisoformat(e))) for s, e in meter.segments]
    return [(s, e) for s, e in runs if e < until]


def _days(meter: State, runs: list[Late]) -> list[dt.datetime]:
    until = aware(meter.rated_until)
    assert until is not None
    return sorted({slot for _s, e in runs for slot in rating.slots(e, until)})


def _key(meter: State, day: dt.datetime) -> str:
    return f"{meter.id}:{day.strftime('%Y-%m-%d')}"


async def charged(session: AsyncSession, late: dict[str, tuple[State, list[Late]]]) -> dict[str, Entry]:
    """The charge lines of the days the late runs touch (a few meters a pass: a crash noticed late)."""
    keys = [_key(meter, day) for meter, runs in late.values() for day in _days(meter, runs)]
    found: dict[str, Entry] = {}
    for start in range(0, len(keys), 500):
        rows = await session.scalars(select(Entry).where(Entry.key.in_(keys[start:start + 500]),
                                                         Entry.kind == "charge"))
        found.update({e.key: e for e in rows.all()})
    return found


def refund(meter: State, runs: list[Late], p: Pass, rate: int, since: dt.datetime, month: str,
           lines: dict[str, Entry]) -> list[dict[str, Any]]:
    """The refund lines of the meter's days charged for the late ``runs`` (``since``: the account's
    start, before which nothing was charged; ``month``: the account's current month)."""
    rows = []
    for day in _days(meter, runs):
        charge = lines.get(_key(meter, day))
        if charge is None or charge.amount >= 0:
            continue  # nothing charged that day (under the minimum, or capped out)
        start, end = max(day, since), day + rating.SLOT
        over = sum(rating.seconds_in([(s, None)], start, end) - rating.seconds_in([(s, e)], start, end)
                   for s, e in runs)
        if over <= 0:
            continue
        took = -charge.amount
        billed = charge.quantity * 3600  # the day's billable seconds as charged
        should = min(took, rating.amount(rate, max(0.0, billed - over)))
        amount = took - should
        if amount <= 0:
            continue
        rows.append(ledger.line(
            f"{_key(meter, day)}:refund", meter.user_id, "refund", amount, max(charge.month, month),
            service=meter.service, resource_type=meter.resource_type, resource_id=meter.resource_id,
            quantity=-round(over / 3600, 6), unit="hour",
            description=f"{charge.description.split(':')[0]}: {over / 3600:.4f} h charged after it had stopped",
            period_start=day, period_end=end, created_at=p.now))
    return rows

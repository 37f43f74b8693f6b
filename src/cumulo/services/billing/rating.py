"""Rating, as pure functions: the running seconds of a resource in each closed period (a UTC day),
and what they cost (per second, 60 s minimum per run, capped per resource and month).

The ledger gets one line per resource and day: 24 times fewer lines than hourly ones (10,000
running resources write 10,000 lines a day, not 240,000), while the open day is counted every
meter pass into the account's ongoing balance, so balances stay current within the pass period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

HOUR = dt.timedelta(hours=1)
SLOT = dt.timedelta(days=1)  # a ledger period; days start at 00:00 UTC (months, and so invoices, too)
MONTH_HOURS = 730  # a GiB-month price spread over the hours of an average month
MINIMUM = 60.0  # seconds: a run shorter than a minute is billed a minute (as DigitalOcean)

Segment = tuple[dt.datetime, dt.datetime | None]  # (start, end); end None: still running


def floor_hour(when: dt.datetime) -> dt.datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def floor_slot(when: dt.datetime) -> dt.datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def slots(start: dt.datetime, horizon: dt.datetime) -> Iterator[dt.datetime]:
    """The periods [slot, slot + SLOT) that begin at or after ``floor_slot(start)`` and end by ``horizon``."""
    slot = floor_slot(start)
    while slot + SLOT <= horizon:
        yield slot
        slot += SLOT


def seconds_in(segments: list[Segment], start: dt.datetime, end: dt.datetime) -> float:
    """Billable running seconds in [start, end): the overlap of every run, a run shorter than the
    minimum counted as the minimum in the hour it began."""
    total = 0.0
    for seg_start, seg_end in segments:
        stop = seg_end if seg_end is not None else end
        overlap = (min(stop, end) - max(seg_start, start)).total_seconds()
        if overlap > 0:
            total += overlap
        if seg_end is not None and start <= seg_start < end:
            short = MINIMUM - (seg_end - seg_start).total_seconds()
            if short > 0:
                total += short
    return total


def amount(rate_per_hour: int, seconds: float) -> int:
    """Micro-credits for ``seconds`` at ``rate_per_hour`` micro-credits an hour."""
    return round(rate_per_hour * seconds / 3600)

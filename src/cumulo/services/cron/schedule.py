"""Schedules: 5-field cron, ``@hourly``-style descriptors, ``@every 5m`` and ``rate(5 minutes)``,
evaluated in the job's time zone."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from cumulo.core.clock import aware

if TYPE_CHECKING:
    from cumulo.services.cron.models import CronJob

DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
               "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_EVERY = re.compile(r"^@every\s+(\d+)\s*(s|m|h|d)$", re.IGNORECASE)
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "s": 1, "m": 60, "h": 3600, "d": 86400}
HELP = ("use 5-field cron ('minute hour day-of-month month day-of-week', e.g. '0 3 * * *'), a descriptor "
        f"({', '.join(DESCRIPTORS)}), '@every 5m' or 'rate(5 minutes)'")


@dataclass(frozen=True)
class Schedule:
    cron: str | None = None
    every: int | None = None  # seconds, for rate()/@every

    def next_after(self, after: dt.datetime, tz: str, anchor: dt.datetime) -> dt.datetime:
        """The first fire time strictly after ``after`` (aware UTC in, aware UTC out)."""
        if self.every:
            steps = math.floor((after - anchor).total_seconds() / self.every) + 1
            return anchor + dt.timedelta(seconds=max(steps, 1) * self.every)
        local = after.astimezone(ZoneInfo(tz))
        nxt: dt.datetime = croniter(self.cron, local).get_next(dt.datetime)
        return nxt.astimezone(dt.UTC)


def parse(expr: str) -> Schedule:
    """A schedule, or ``ValueError`` saying why ``expr`` is not one."""
    text = expr.strip()
    if not text:
        raise ValueError(f"schedule is empty: {HELP}")
    match = _RATE.match(text) or _EVERY.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower().rstrip("s") or "s"
        seconds = amount * _UNITS[unit if unit in _UNITS else unit[0]]
        if amount < 1:
            raise ValueError(f"schedule '{expr}': the rate must be at least 1")
        if seconds > 366 * 86400:
            raise ValueError(f"schedule '{expr}': the rate must be at most a year")
        return Schedule(every=seconds)
    if text.startswith("@"):
        if text.lower() not in DESCRIPTORS:
            raise ValueError(f"schedule '{expr}': unknown descriptor; {HELP}")
        return Schedule(cron=DESCRIPTORS[text.lower()])
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"schedule '{expr}' has {len(fields)} fields, cron needs exactly 5; {HELP}")
    try:
        croniter(text, dt.datetime(2024, 1, 1)).get_next(dt.datetime)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"schedule '{expr}' is not valid cron ({exc}); {HELP}") from None
    return Schedule(cron=text)


def next_run(job: CronJob, after: dt.datetime) -> dt.datetime:
    """The job's first fire time strictly after ``after`` (``@every`` counts from its creation)."""
    return parse(job.schedule).next_after(after, job.timezone, aware(job.created_at))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise ValueError(f"unknown time zone '{name}': use an IANA name such as 'UTC' or 'Europe/Paris'") from None
    return name

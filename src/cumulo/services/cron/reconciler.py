"""Background work of cron: the scheduler tick (woken by every job change) and the run reaper."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.cron import scheduler
from cumulo.services.cron.service import LOOP

TICK_SECONDS = 0.25


def register(platform: Platform) -> None:
    platform.runner.every(LOOP, TICK_SECONDS, lambda: scheduler.tick(platform))
    platform.runner.every("cron.reaper", 60.0, lambda: scheduler.reap(platform))

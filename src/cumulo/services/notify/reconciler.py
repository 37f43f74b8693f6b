"""Background work of notify: the delivery loop (woken by every publish) and log pruning."""

from __future__ import annotations

import datetime as dt

from cumulo.drivers import http as outbound
from cumulo.platform import Platform
from cumulo.services.notify import delivery
from cumulo.services.notify.service import LOOP

POLL_SECONDS = 1.0
LOG_RETENTION = dt.timedelta(days=7)


def register(platform: Platform) -> None:
    outbound.pooled_client(platform)  # closed after the dispatcher has stopped
    dispatcher = delivery.dispatcher(platform)
    platform.runner.every(LOOP, POLL_SECONDS, dispatcher.run_once)
    platform.runner.every("notify.prune", 3600.0, lambda: delivery.prune(platform, LOG_RETENTION))

"""Background work of load balancers: the health prober (``lb.health``).

It sleeps until the next target is due (at most 5 s), and is woken by every load balancer write and
by every instance event (an instance stopped, started or deleted is re-read at once).
"""

from __future__ import annotations

from cumulo.core.events import Event
from cumulo.platform import Platform
from cumulo.services.lb import hooks  # noqa: F401 - registers the routes provider
from cumulo.services.lb.prober import MAX_SLEEP, MIN_SLEEP, Prober
from cumulo.services.lb.service import PROBER


def register(platform: Platform) -> None:
    prober = platform.get_or_create("lb.prober", lambda: Prober(platform))
    platform.closers.append(prober.close)

    async def run() -> None:
        wait = MAX_SLEEP
        try:
            wait = await prober.run()
        finally:
            loop.interval = min(max(wait, MIN_SLEEP), MAX_SLEEP)

    loop = platform.runner.every(PROBER, MAX_SLEEP, run)

    def instance_event(event: Event) -> None:
        prober.instance_changed()
        loop.wake()

    platform.bus.subscribe("instance.", instance_event)

"""Background work of the gateway: the coalesced config push, Caddy's supervision, the check endpoint.

- ``gateway.push``: woken by ``providers.changed`` (every route/LB write, every instance event)
  and run every ``CUMULO_GATEWAY_RESYNC_SECONDS`` anyway. After a change it waits for the burst to
  settle (a quarter of ``CUMULO_GATEWAY_PUSH_SECONDS`` without a new change, at most
  ``CUMULO_GATEWAY_PUSH_SECONDS``) and
  never reloads the proxy more often than once per ``CUMULO_GATEWAY_PUSH_SECONDS``: a burst of
  changes is one push. An urgent change (``providers.changed(urgent=True)``: an app's switch, its
  ``git push`` waiting) does not wait for the burst to settle, and needs only ``SETTLE`` x
  ``CUMULO_GATEWAY_PUSH_SECONDS`` since the last reload.
- ``gateway.supervise``: every second, a Caddy that should run but does not answer (killed,
  crashed) is started again (it resumes its last config) and the config is pushed at once.
"""

from __future__ import annotations

import asyncio
import time

from cumulo.core.events import Event
from cumulo.platform import Platform
from cumulo.services.gateway import providers
from cumulo.services.gateway.check import CheckServer
from cumulo.services.gateway.dataplane import dataplane

SETTLE = 0.25  # x CUMULO_GATEWAY_PUSH_SECONDS: the quiet time that ends a burst (0.5 s by default)
SUPERVISE = "gateway.supervise"


def register(platform: Platform) -> None:
    dp = dataplane(platform)
    settings = platform.settings
    check = CheckServer(platform, dp.check_socket)
    platform.extras["gateway.check"] = check
    platform.closers.append(dp.close)

    async def push() -> None:
        # A change in this process marks it dirty (and sets changed_at for the settle wait); a wake
        # from another process (signals, PostgreSQL) or the resync only keeps the spacing below.
        dirty = platform.extras.pop("gateway.dirty", False)
        urgent = platform.extras.pop("gateway.urgent", False)
        if dirty or time.monotonic() - dp.last_push < settings.gateway_push_seconds:
            started = time.monotonic()
            while True:
                now = time.monotonic()
                urgent = platform.extras.pop("gateway.urgent", False) or urgent  # may come during the wait
                spacing = settings.gateway_push_seconds * (SETTLE if urgent else 1.0)
                spaced = now - dp.last_push >= spacing
                quiet = urgent or \
                    now - platform.extras.get("gateway.changed_at", 0.0) >= SETTLE * settings.gateway_push_seconds
                if spaced and (quiet or now - started >= settings.gateway_push_seconds):
                    break
                await asyncio.sleep(0.02 if urgent else 0.05)
            platform.extras.pop("gateway.dirty", None)  # changes so far are in this push
            platform.extras.pop("gateway.urgent", None)
        try:
            await dp.sync()
            dp.last_error = None
        except Exception as exc:
            dp.last_error = str(exc)
            raise

    async def supervise() -> None:
        if dp.process is None or dp.applied is None or not dp.applied.routes:
            return
        if not await dp.process.alive():
            await dp.process.ensure()
            providers.mark_changed(platform)
            platform.extras["gateway.changed_at"] = 0.0
            loop.wake()

    loop = platform.runner.every(providers.PUSH_LOOP, settings.gateway_resync_seconds, push)
    platform.runner.every(SUPERVISE, 1.0, supervise)
    platform.runner.spawn("gateway.check", check.serve)

    def instance_event(event: Event) -> None:
        providers.mark_changed(platform)
        loop.wake()

    platform.bus.subscribe("instance.", instance_event)

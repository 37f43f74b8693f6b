"""An in-memory ``ProxyDriver`` for unit tests: records every config it is asked to serve."""

from __future__ import annotations

from typing import Any

from cumulo.core.errors import Unavailable
from cumulo.drivers.proxy.config import ProxyConfig

FAKE_CA = "-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n"


class FakeProxy:
    def __init__(self) -> None:
        self.current: ProxyConfig | None = None
        self.pushes: list[ProxyConfig] = []
        self.down = False  # set to simulate an unreachable engine

    async def apply(self, config: ProxyConfig) -> bool:
        if self.down:
            raise Unavailable("fake proxy is down")
        if config == self.current:
            return False
        self.current = config
        self.pushes.append(config)
        return True

    async def alive(self) -> bool:
        return not self.down

    async def upstreams(self) -> list[dict[str, Any]]:
        if self.current is None:
            return []
        dials = {u.dial for r in self.current.routes for u in r.pool.upstreams}
        return [{"address": d, "num_requests": 0, "fails": 0} for d in sorted(dials)]

    async def metrics(self) -> str:
        return ""

    async def ca_certificate(self) -> str:
        return FAKE_CA

"""What the gateway needs from a proxy engine."""

from __future__ import annotations

from typing import Any, Protocol

from cumulo.drivers.proxy.config import ProxyConfig


class ProxyDriver(Protocol):
    async def apply(self, config: ProxyConfig) -> bool:
        """Make the data plane serve exactly ``config`` (idempotent, all at once, without dropping
        in-flight requests). True when the engine was reloaded, False when it already served it.
        Raises ``cumulo.core.errors.Unavailable`` when the engine is unreachable or refuses."""
        ...

    async def alive(self) -> bool:
        """The engine answers on its admin endpoint."""
        ...

    async def upstreams(self) -> list[dict[str, Any]]:
        """Per-upstream counters: ``[{"address": "10.0.0.3:80", "num_requests": 0, "fails": 0}]``."""
        ...

    async def metrics(self) -> str:
        """The engine's metrics in Prometheus text format."""
        ...

    async def ca_certificate(self) -> str:
        """PEM of the root certificate of the internal CA that signs HTTPS hostnames."""
        ...

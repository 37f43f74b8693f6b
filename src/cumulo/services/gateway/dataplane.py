"""The installation's data plane as the gateway sees it: the proxy process, its driver, the check
endpoint, and the desired ``ProxyConfig`` built from the database.

``sync()`` builds the whole desired config (gateway routes + every provider's routes) and applies
it. Caddy is started lazily, on the first config that has a route; a Caddy already answering on
this installation's admin socket is adopted as it is (a Cumulo restart does not interrupt it).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.drivers.proxy.base import ProxyDriver
from cumulo.drivers.proxy.config import ProxyConfig, Route
from cumulo.drivers.proxy.fake import FakeProxy
from cumulo.drivers.proxy.process import CaddyProcess, socket_path
from cumulo.platform import Platform
from cumulo.services.gateway import providers, targets
from cumulo.services.gateway.models import GatewayRoute

log = logging.getLogger("cumulo.gateway")
CREDENTIAL_HEADERS = ("X-Api-Key", "Authorization")


class DataPlane:
    def __init__(self, platform: Platform):
        self.platform = platform
        s = platform.settings
        self.state_dir = s.data_dir / "proxy"
        self.process: CaddyProcess | None = None
        self.driver: ProxyDriver
        if s.proxy_driver == "fake":
            self.driver = FakeProxy()
        else:
            self.process = CaddyProcess(self.state_dir, s.caddy_bin)
            self.driver = self.process.driver
        self.check_socket = socket_path(self.state_dir, "check.sock")
        self.last_push = 0.0  # time.monotonic() of the last reload
        self.reloads = 0
        self.syncs = 0
        self.last_error: str | None = None
        self.applied: ProxyConfig | None = None

    async def gateway_routes(self, session: AsyncSession) -> list[Route]:
        rows = (await session.scalars(select(GatewayRoute).order_by(GatewayRoute.id))).all()
        out: list[Route] = []
        for row in rows:
            resolved = await targets.resolve(self.platform, session, row.user_id, row.target)
            out.append(Route(
                id=f"route-{row.id}", owner=row.user_id, pool=resolved.pool, hostnames=(row.hostname,),
                prefix=row.prefix, strip_prefix=row.strip_prefix, upstream_path=resolved.upstream_path,
                methods=tuple(m for m in row.methods.split(",") if m), timeout_seconds=row.timeout_seconds,
                preserve_host=row.preserve_host, upstream_host=resolved.upstream_host,
                check=row.require_api_key or bool(row.rate_limit), metrics_name=row.name,
                drop_headers=CREDENTIAL_HEADERS if row.require_api_key else ()))
        return out

    async def build(self) -> ProxyConfig:
        s = self.platform.settings
        async with self.platform.db.session() as session:
            routes = await self.gateway_routes(session) + await providers.collect(session, self.platform)
        return ProxyConfig(routes=tuple(routes), http_port=s.proxy_http_port, https_port=s.proxy_https_port,
                           listen_host=s.proxy_listen_host, check_dial=f"unix/{self.check_socket}",
                           acme_email=s.proxy_acme_email)

    async def sync(self) -> bool:
        """Build and apply the desired config; True when the proxy was reloaded."""
        config = await self.build()
        self.syncs += 1
        if self.process is not None:
            if not config.routes and not await self.process.alive():
                return False  # nothing to serve: no need to start Caddy
            await self.process.ensure()
        reloaded = await self.driver.apply(config)
        self.applied = config
        if reloaded:
            self.reloads += 1
            self.last_push = time.monotonic()
            log.info("proxy config pushed (%d routes)", len(config.routes))
        return reloaded

    async def ca_certificate(self) -> str | None:
        """PEM of the internal CA's root, from the running proxy or its state dir; None before the
        proxy ever started."""
        path = self.state_dir / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        if path.exists():
            return path.read_text()
        if self.process is None:
            return await self.driver.ca_certificate()
        return None

    async def close(self) -> None:
        if self.process is not None:
            if self.platform.settings.proxy_stop_on_exit:
                await self.process.stop()
            else:
                await self.process.driver.close()


def dataplane(platform: Platform) -> DataPlane:
    return platform.get_or_create("gateway.dataplane", lambda: DataPlane(platform))

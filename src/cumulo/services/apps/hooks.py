"""What apps give the gateway: one route per serving web app, on its generated hostname and its
custom domains, to the healthy containers of its current release (``App.upstreams``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.drivers.proxy.config import Pool, Route, Upstream
from cumulo.services.apps.models import App, AppDomain
from cumulo.services.gateway import providers

if TYPE_CHECKING:
    from cumulo.platform import Platform


async def routes(session: AsyncSession, platform: Platform) -> list[Route]:
    apps = list((await session.scalars(select(App).where(App.upstreams != ""))).all())
    domains: dict[str, list[str]] = {}
    for app_id, host in (await session.execute(select(AppDomain.app_id, AppDomain.hostname))).all():
        domains.setdefault(app_id, []).append(host)
    return [Route(id=f"app-{app.id}", owner=app.user_id, hostnames=(app.hostname, *sorted(domains.get(app.id, []))),
                  pool=Pool(upstreams=tuple(Upstream(u) for u in app.upstreams.split(",") if u)),
                  preserve_host=True, timeout_seconds=60, metrics_name=f"app:{app.name}")
            for app in apps if app.status == "running"]


providers.register("app", routes=routes)

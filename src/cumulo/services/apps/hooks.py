"""What apps give the gateway: one route per serving web app, on its generated hostname and its
custom domains, to the healthy containers of its current release (``App.upstreams``); and the
billing meter their usage (``cumulo.ports.usage``: billed while running, as their containers) and
their stop at zero balance."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware
from cumulo.core.errors import CumuloError
from cumulo.core.principal import Principal
from cumulo.drivers.proxy.config import Pool, Route, Upstream
from cumulo.services.apps.models import App, AppDomain, app_usage
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


async def usage(session: AsyncSession) -> list[ports.Usage]:
    """Each app as its row says now (billed while running, as its containers), since the moment its
    status, replicas or memory last changed (``state_changed_at``: the event of that change, recorded
    by ``databases.transitions``, is what the meter follows; this only seeds rows made before)."""
    rows = await session.execute(select(App.id, App.user_id, App.name, App.status, App.replicas, App.memory_mb,
                                        App.state_changed_at, App.updated_at))
    out = []
    for rid, user_id, name, status, replicas, memory_mb, stamp, updated_at in rows.all():
        active, spec = app_usage({"status": status, "replicas": replicas, "memory_mb": memory_mb}.get)
        out.append(ports.Usage(resource_id=rid, user_id=user_id, name=name, active=active,
                               since=aware(stamp or updated_at), spec=spec))
    return out


async def suspend(platform: Platform, user: Principal) -> int:
    """Stop (never delete: the releases stay) every running app of the user, at zero balance; how many."""
    from cumulo.services.apps import service

    stopped = 0
    async with platform.db.session() as session:
        for app in await service.list_apps(session, user):
            if app.status == "running":
                try:
                    await service.stop(platform, session, user, app.id)
                    stopped += 1
                except CumuloError as exc:
                    logging.getLogger("cumulo.apps").warning("app %s not stopped: %s", app.id, exc.message)
    return stopped


ports.usage.add("app", ports.Meterable(service="apps", states=usage, suspend=suspend, evented=True))

"""Background work of apps (``apps.heal``, every ``HEAL_SECONDS``):

- a serving app with fewer running processes of its current release than ``replicas`` (a process
  crashed, was killed or removed behind Cumulo's back) gets the release started again: new
  containers, health check, switch (skipped while a deploy holds the app's lock); the billing meter
  counts the missing processes out from when they stopped and in again once healed (``crashes``);
- containers of apps that no longer exist (deleted during a deploy, or by a process that died)
  are removed, and so are the standby processes (``standby``) of stopped and failed apps (of every
  app when ``CUMULO_APPS_STANDBY`` is off) and those that ended. Only this installation's
  containers are touched.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import select

from cumulo.core.errors import Conflict, CumuloError, NotFound
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_KIND, LABEL_RESOURCE, ContainerState
from cumulo.platform import Platform
from cumulo.services.apps import pipeline, runtime, standby
from cumulo.services.apps.models import App, Release

log = logging.getLogger("cumulo.apps")
HEAL_SECONDS = 5.0


async def heal(platform: Platform) -> None:
    driver = compute_driver(platform)
    async with platform.db.session() as session:
        rows = (await session.execute(select(App.id, App.status, App.deploy_token, App.current_release_id))).all()
        ids = {r.id for r in rows}
        current_of = {r.id: r.current_release_id for r in rows}
        idle = {r.id for r in rows if r.status in ("stopped", "failed") and r.deploy_token is None}
        serving = list((await session.scalars(select(App).where(
            App.status == "running", App.current_release_id.is_not(None), App.deploy_token.is_(None)))).all())
    states = await driver.list({LABEL_INSTALLATION: platform.installation_id, LABEL_KIND: "app"})
    by_app: dict[str, list[ContainerState]] = {}
    for state in states:
        by_app.setdefault(state.labels.get(LABEL_RESOURCE, ""), []).append(state)
    for app_id, found in by_app.items():
        if app_id not in ids:
            for state in found:
                with contextlib.suppress(CumuloError):
                    await driver.destroy(state.id)
            continue
        waiting = [c for c in found if standby.LABEL_STANDBY in c.labels
                   and c.labels.get(runtime.LABEL_RELEASE) != current_of.get(app_id)]
        if waiting and (app_id in idle or not platform.settings.apps_standby):
            await standby.remove(platform, app_id)  # made while the app was being stopped, or turned off
        elif any(not c.running for c in waiting):
            await standby.remove(platform, app_id, ended_only=True)  # after a host reboot, or killed
    for app in serving:
        current = [s for s in by_app.get(app.id, []) if s.labels.get(runtime.LABEL_RELEASE) == app.current_release_id]
        if sum(1 for s in current if s.running) >= max(1, app.replicas):
            continue
        try:
            async with pipeline.deploy_lock(platform, app.id):
                async with platform.db.session() as session:
                    fresh = await session.get(App, app.id)
                    release = await session.get(Release, app.current_release_id)
                if fresh is None or release is None or fresh.status != "running" \
                        or fresh.current_release_id != release.id:
                    continue
                current = [s for s in await runtime.containers(platform, app.id)
                           if s.labels.get(runtime.LABEL_RELEASE) == release.id]  # as they are under the lock
                running = sum(1 for s in current if s.running)
                if running >= max(1, fresh.replicas):
                    continue  # healed by another pass meanwhile
                log.info("app %s: %d of %d processes running, starting v%d again", app.name, running,
                         fresh.replicas, release.version)
                # the switch bills the ended processes until they stopped, and every replica again once healed
                await pipeline.switch(platform, fresh, release, lambda line: None)
        except (Conflict, NotFound):
            continue
        except CumuloError as exc:
            log.warning("app %s could not be healed: %s", app.name, exc.message)


def register(platform: Platform) -> None:
    platform.runner.every("apps.heal", HEAL_SECONDS, lambda: heal(platform))

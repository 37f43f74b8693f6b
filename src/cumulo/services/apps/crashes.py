"""What the billing meter learns of an app's processes that stopped on their own (found by a
switch to a release: ``reconciler.heal``'s, or a deploy's, restart's or config change's, so one that
crashed while a deploy held the app's lock is counted out from its stop too):
an app is billed as ``replicas`` containers while running (``models.app_usage``), so each process of
its current release found exited is recorded as an ``app.process_crashed`` event carrying the usage
from the moment it really stopped (Docker's ``State.FinishedAt`` in Cumulo's time, not when the
reconciler noticed): one container fewer, none billed when none runs. Once the release is started
again, ``app.healed`` bills every replica again, from then. The meter follows these events in commit
order as it follows the app's changes of state (``databases.transitions``), and skips one older than
what it knows (a crash recorded again after a heal that failed)."""

from __future__ import annotations

import contextlib
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, iso, reading_at, utcnow
from cumulo.core.errors import CumuloError
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import ContainerState
from cumulo.platform import Platform
from cumulo.services.apps.models import App, app_usage
from cumulo.services.events import service as events

TOGETHER = dt.timedelta(seconds=1)  # processes that stopped this close are counted out at once (the last one's time)


async def _stopped_at(platform: Platform, app: App, container: ContainerState, now: dt.datetime) -> dt.datetime:
    """When the exited ``container`` stopped, no later than now nor earlier than the app's last change."""
    state = None
    with contextlib.suppress(CumuloError):
        state = await compute_driver(platform).find(container.id)  # a list does not say when
    finished = state.finished_at if state is not None else None
    moment = min(reading_at(finished), now) if finished is not None else now
    since = aware(app.state_changed_at)
    return max(moment, since) if since is not None else moment


def _record(session: AsyncSession, app: App, action: str, running: int, at: dt.datetime, **data: str | None) -> None:
    """The event of ``running`` containers of the app from ``at`` (none: not billed; its spec kept)."""
    full = {"status": app.status, "replicas": app.replicas, "memory_mb": app.memory_mb}
    _active, spec = app_usage((full | {"replicas": running} if running else full).get)
    events.record(session, user_id=app.user_id, action=action, resource_type="app", resource_id=app.id,
                  name=app.name, replicas=app.replicas, running=running, **data,
                  usage={"meter": "app", "active": running > 0 and app.status == "running", "spec": spec,
                         "at": iso(at)})


async def crashed(platform: Platform, app: App, found: list[ContainerState]) -> bool:
    """Record the processes of the current release (``found``) missing from its ``replicas``: the
    exited ones at their stop, in order; one removed behind Cumulo's back (no stop time) at now.
    True when some were missing (``healed`` is then due once they run again)."""
    replicas = max(1, app.replicas)
    missing = replicas - sum(1 for s in found if s.running)
    if missing <= 0:
        return False
    now = utcnow()
    moments = sorted([await _stopped_at(platform, app, s, now) for s in found if not s.running])[-missing:]
    moments += [now] * (missing - len(moments))
    async with platform.db.session() as session:
        for n, at in enumerate(moments, start=1):
            if n < len(moments) and moments[n] - at <= TOGETHER:
                continue  # stopped together with the next one: no run of a moment (billed 60 s) in between
            _record(session, app, "app.process_crashed", replicas - n, at, stopped_at=iso(at))
        await session.commit()
    return True


async def healed(platform: Platform, app: App) -> None:
    """Every replica runs again (started by the heal): billed from now."""
    async with platform.db.session() as session:
        _record(session, app, "app.healed", max(1, app.replicas), utcnow())
        await session.commit()

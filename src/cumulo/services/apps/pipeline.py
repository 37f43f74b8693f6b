"""Deploys: the per-app lock, build -> release -> switch, and releases made without a build
(config changes, rollbacks, restarts).

The lock is a row update (``deploy_token`` set only where it is empty or stale), so it holds across
API processes; a second deploy of the same app fails fast with 409 and says which one runs.
Every outcome is recorded before the lock is let go: a failed build or health check leaves the
current release serving and the app's ``error`` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm.exc import StaleDataError

from cumulo.core.clock import utcnow
from cumulo.core.errors import Conflict, CumuloError, NotFound
from cumulo.core.ids import new_id
from cumulo.drivers.compute import compute_driver
from cumulo.platform import Platform
from cumulo.services.apps import build, crashes, runtime, source, standby
from cumulo.services.apps.models import App, Build, Release
from cumulo.services.events import service as events
from cumulo.services.gateway import providers

MAX_LOG_CHARS = 256 * 1024
LogFn = Callable[[str], None]


@contextlib.asynccontextmanager
async def deploy_lock(platform: Platform, app_id: str) -> AsyncIterator[str]:
    tok = str(uuid.uuid4())
    now = utcnow()
    stale = now - dt.timedelta(seconds=platform.settings.apps_build_timeout_seconds + 600)
    async with platform.db.session() as session:
        # an UPDATE/DELETE runs as a CursorResult (execute() is typed as returning any Result)
        result = cast("CursorResult[Any]", await session.execute(update(App).where(
            App.id == app_id, or_(App.deploy_token.is_(None), App.deploy_started_at < stale)).values(
            deploy_token=tok, deploy_started_at=now)))
        await session.commit()
        if result.rowcount != 1:
            app = await session.get(App, app_id)
            if app is None:
                raise NotFound("app not found")
            raise Conflict(f"another deploy of app '{app.name}' is running; wait for it to finish and try again")
    try:
        yield tok
    finally:
        async with platform.db.session() as session:
            await session.execute(update(App).where(App.id == app_id, App.deploy_token == tok).values(
                deploy_token=None, deploy_started_at=None))
            await session.commit()


async def _set(platform: Platform, app_id: str, **values: object) -> None:
    """Set fields of the app (gone: nothing), through the ORM: a change of status is stamped and
    recorded for billing (``models.app_usage``)."""
    async with platform.db.session() as session:
        app = await session.get(App, app_id)
        if app is None:
            return
        for name, value in values.items():
            setattr(app, name, value)
        try:
            await session.commit()
        except StaleDataError:
            pass  # deleted meanwhile


async def switch(platform: Platform, app: App, release: Release, log: LogFn,
                 network: Awaitable[str] | None = None) -> None:
    """Start ``release``, wait until healthy, route to it, retire the previous containers
    (``network``: the app's network name, being made ready meanwhile)."""
    found = await runtime.containers(platform, app.id)
    # processes of the serving release that ended on their own (or were removed) are billed until they
    # stopped, whoever finds them: the reconciler's heal, or a deploy that held the app's lock meanwhile
    current = [c for c in found if c.labels.get(runtime.LABEL_RELEASE) == app.current_release_id]
    missing = app.status == "running" and app.current_release_id is not None \
        and await crashes.crashed(platform, app, current)
    spare = standby.taken_by(found, release)  # a standby reserved for this release becomes its first process
    before = {c.id for c in found if spare is None or c.id != spare.id}  # retired after the drain
    try:
        upstreams = await runtime.start(platform, app, release, log, network, spare,
                                        standby.input_of(release) if spare else b"")
    except CumuloError as exc:
        async with platform.db.session() as session:
            await session.execute(update(Release).where(Release.id == release.id).values(
                status="failed", error=exc.message))
            row = await session.get(App, app.id)
            assert row is not None
            row.error = f"release v{release.version} failed: {exc.message}"
            serving = row.current_release_id and row.current_release_id != release.id
            row.status = row.status if serving and row.status in ("running", "stopped") else "failed"
            events.record(session, user_id=app.user_id, action="app.release_failed", resource_type="app",
                          resource_id=app.id, version=release.version, error=exc.message)
            await session.commit()
        raise
    async with platform.db.session() as session:
        row = await session.get(App, app.id)
        if row is None:  # deleted meanwhile
            await runtime.retire(platform, app.id, None)
            raise NotFound("the app was deleted during the deploy")
        await session.execute(update(Release).where(Release.app_id == app.id, Release.status == "active",
                                                    Release.id != release.id).values(status="retired"))
        await session.execute(update(Release).where(Release.id == release.id).values(status="active", error=None))
        row.current_release_id, row.upstreams = release.id, ",".join(upstreams)
        row.status, row.error, row.deployed_at = "running", None, utcnow()
        events.record(session, user_id=app.user_id, action="app.released", resource_type="app", resource_id=app.id,
                      version=release.version, description=release.description)
        await session.commit()
    if missing:
        await crashes.healed(platform, row)  # every replica runs again, billed from now
    await providers.changed(platform, urgent=True)  # the push waits on it: no coalescing delay
    runtime.retire_later(platform, app.id, release.id, before)
    standby.prepare_later(platform, row, release)
    log(f"-----> v{release.version} is live" + (f" at {app.hostname}" if upstreams else " (worker: no route)")
        + "\n")
    await prune(platform, app.id)


async def new_release(platform: Platform, app_id: str, *, image: str, git_rev: str | None, process: str,
                      command: str | None, release_command: str | None, config_sealed: bytes | None,
                      description: str, build_id: str | None = None, slug: str | None = None,
                      release_id: str | None = None) -> tuple[App, Release]:
    """A new numbered release (``release_id``: its id, one a standby process was started for)."""
    async with platform.db.session() as session:
        app = await session.get(App, app_id)
        if app is None:
            raise NotFound("app not found")
        app.release_count += 1
        release = Release(id=release_id or new_id(), app_id=app.id, user_id=app.user_id, version=app.release_count, build_id=build_id,
                          image=image, git_rev=git_rev, process=process, command=command,
                          release_command=release_command, config_sealed=config_sealed, description=description,
                          slug=slug)
        session.add(release)
        await session.commit()
        await session.refresh(app)
        await session.refresh(release)
        return app, release


async def build_and_release(platform: Platform, app_id: str, archive: Path | None, git_rev: str, log: LogFn,
                            tree: Path | None = None) -> Release:
    """The whole push path (the caller holds the deploy lock): unpack ``archive`` (or take the
    already checked ``tree``), build, release, switch."""
    s = platform.settings
    async with platform.db.session() as session:
        app = await session.get(App, app_id)
        if app is None:
            raise NotFound("app not found")
        app.build_count += 1
        record = Build(app_id=app.id, user_id=app.user_id, number=app.build_count, git_rev=git_rev)
        session.add(record)
        previous_status = app.status
        app.status = "building"
        await session.commit()
        await session.refresh(app)
        await session.refresh(record)
    lines: list[str] = []

    def logged(line: str) -> None:
        lines.append(line)
        log(line)

    work = Path(tempfile.mkdtemp(prefix="build-", dir=_tmp(platform)))
    # the app's network (its owner's default VPC, made on a first deploy) gets ready while it builds
    network = asyncio.ensure_future(runtime.app_network(platform, app))
    network.add_done_callback(lambda done: done.cancelled() or done.exception())  # its error is the start's
    try:
        logged(f"-----> Building {app.name} at {git_rev[:12]} (build {record.number})\n")
        if tree is None:
            assert archive is not None
            tree = work / "src"
            await asyncio.to_thread(unpack, platform, archive, tree)
        built = await asyncio.wait_for(build.build(platform, app, tree, record.number, git_rev, logged),
                                       s.apps_build_timeout_seconds)
    except (CumuloError, TimeoutError) as exc:
        message = exc.message if isinstance(exc, CumuloError) else \
            f"the build took longer than {int(s.apps_build_timeout_seconds)} s"
        await asyncio.gather(network, return_exceptions=True)  # not cut off half-way
        lines.append(f"-----> Build failed: {message}\n")  # the pusher sees it as "Push rejected: ..."
        await _finish_build(platform, record.id, "failed", lines, message)
        await _set(platform, app.id, status=previous_status if previous_status in ("running", "stopped")
                   else "failed", error=f"build {record.number} failed: {message}")
        raise CumuloError(message) if not isinstance(exc, CumuloError) else exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    await _finish_build(platform, record.id, "succeeded", lines, None, built.plan.app_type)
    await _set(platform, app.id, app_type=built.plan.app_type, status=previous_status if previous_status != "building"
               else "pending")
    reserved = await standby.reserved(platform, app, built.image, app.config_sealed) \
        if standby.usable(platform, built.slug, built.plan.command) else None
    app, release = await new_release(platform, app.id, image=built.image, git_rev=git_rev, process=built.plan.process,
                                     command=built.plan.command, release_command=built.plan.release_command,
                                     config_sealed=app.config_sealed, description=f"Deploy {git_rev[:7]}",
                                     build_id=record.id, slug=built.slug, release_id=reserved)
    try:
        await switch(platform, app, release, logged, network)
    finally:
        await asyncio.gather(network, return_exceptions=True)
        await _append_log(platform, record.id, lines)
    return release


def unpack(platform: Platform, archive: Path, dest: Path) -> None:
    """``source.unpack`` with the server's caps."""
    s = platform.settings
    source.unpack(archive, dest, s.apps_max_file_mb * 1024 * 1024, s.apps_max_source_mb * 1024 * 1024)


async def _finish_build(platform: Platform, build_id: str, status: str, lines: list[str], error: str | None,
                        app_type: str | None = None) -> None:
    async with platform.db.session() as session:
        row = await session.get(Build, build_id)
        assert row is not None
        row.status, row.error, row.finished_at = status, error, utcnow()
        row.log = "".join(lines)[-MAX_LOG_CHARS:]
        row.app_type = app_type
        events.record(session, user_id=row.user_id, action=f"app.build_{status}", resource_type="app",
                      resource_id=row.app_id, build=row.number, error=error)
        await session.commit()


async def _append_log(platform: Platform, build_id: str, lines: list[str]) -> None:
    async with platform.db.session() as session:
        await session.execute(update(Build).where(Build.id == build_id).values(log="".join(lines)[-MAX_LOG_CHARS:]))
        await session.commit()


def _tmp(platform: Platform) -> Path:
    return build.work_dir(platform)


async def prune(platform: Platform, app_id: str) -> None:
    """Keep the newest ``CUMULO_APPS_KEEP_RELEASES`` releases; remove the images and files no kept release uses."""
    keep = platform.settings.apps_keep_releases
    async with platform.db.session() as session:
        app = await session.get(App, app_id)
        rows = list((await session.scalars(select(Release).where(Release.app_id == app_id)
                                           .order_by(Release.version.desc()))).all())
        old = [r for r in rows[keep:] if app is None or r.id != app.current_release_id]
        if not old:
            return
        kept_images = {r.image for r in rows if r not in old}
        kept_slugs = {r.slug for r in rows if r not in old and r.slug}
        for r in old:
            await session.delete(r)
        await session.commit()
    for image in {r.image for r in old} - kept_images:
        with contextlib.suppress(CumuloError):
            await compute_driver(platform).remove_image(image)
    build.remove_slugs(platform, app_id, {r.slug for r in old if r.slug} - kept_slugs)

"""App use cases: create, read, update, delete; config vars; releases, rollback; start, stop,
restart; logs; custom domains; the push and redeploy entry points (``pipeline`` does the work).

Every lookup is by owner (another user's app is 404, as a missing one). Writes that change what
the gateway serves call ``providers.changed`` after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.core.errors import Conflict, CumuloError, InvalidInput, not_found
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.drivers.compute import compute_driver
from cumulo.platform import Platform
from cumulo.services.apps import build, git, pipeline, runtime
from cumulo.services.apps import logs as app_logs
from cumulo.services.apps.models import App, AppDomain, Build, Release
from cumulo.services.apps.schemas import AppCreate, AppOut, AppUpdate, BuildOut, ConfigChange, ReleaseOut
from cumulo.services.events import service as events
from cumulo.services.gateway import hostnames, providers
from cumulo.services.network import service as network
from cumulo.services.quotas import service as quotas
from cumulo.services.secrets import service as secrets

log = logging.getLogger("cumulo.apps")
KIND = "app"
MAX_DOMAINS = 20


def git_remote(platform: Platform, app: App) -> str:
    return f"{platform.settings.base_url}/git/{app.name}.git"


def app_out(platform: Platform, app: App, domains: list[str] | None = None, release: int | None = None) -> AppOut:
    s = platform.settings
    web = app.app_type not in ("telegram-bot",)
    return AppOut(
        id=app.id, app_id=app.id, name=app.name, status=app.status, app_type=app.app_type,
        url=hostnames.public_url(s, hostname=app.hostname) if web else None,
        https_url=hostnames.public_url(s, hostname=app.hostname, https=True) if web and s.proxy_https_port else None,
        subdomain=app.hostname, git_remote=git_remote(platform, app), branch=app.branch, git_url=app.git_url,
        git_secret=app.git_secret,
        release=release, replicas=app.replicas, memory_mb=app.memory_mb, domains=domains or [], error=app.error,
        created_at=aware(app.created_at), deployed_at=aware(app.deployed_at) if app.deployed_at else None)


async def render(platform: Platform, session: AsyncSession, app: App) -> AppOut:
    domains = list((await session.scalars(select(AppDomain.hostname).where(AppDomain.app_id == app.id)
                                          .order_by(AppDomain.hostname))).all())
    version = None
    if app.current_release_id:
        version = await session.scalar(select(Release.version).where(Release.id == app.current_release_id))
    return app_out(platform, app, domains, version)


async def get(session: AsyncSession, user: Principal, ref: str) -> App:
    return await owned(session, App, user.user_id, ref, KIND)


async def list_apps(session: AsyncSession, user: Principal) -> list[App]:
    return list((await session.scalars(select(App).where(App.user_id == user.user_id)
                                       .order_by(App.created_at, App.id).limit(1000))).all())


async def create(platform: Platform, session: AsyncSession, user: Principal, body: AppCreate) -> App:
    if body.git_url is not None:
        from cumulo.services.apps import remote

        await remote.check(platform, body.git_url)
    if body.git_secret is not None:
        if body.git_url is None:
            raise InvalidInput("git_secret is for cloning a private git_url: give git_url too")
        await secrets.find(session, user, body.git_secret)  # 404 when it is not the user's
    await quotas.check(session, platform, user.user_id, "apps")
    hostname = hostnames.generated_hostname(platform.settings, body.name, user.user_id)
    app = App(user_id=user.user_id, name=body.name, branch=body.branch, git_url=body.git_url, git_secret=body.git_secret,
              type_override=body.app_type, app_type=body.app_type, status="pending", hostname=hostname,
              replicas=body.replicas, memory_mb=body.memory_mb or platform.settings.apps_memory_mb,
              config_sealed=runtime.seal_config(platform, user.user_id, body.env_vars), upstreams="")
    session.add(app)
    await flush_or_conflict(session, f"you already have an app named '{body.name}'")
    await hostnames.claim(session, user.user_id, hostname, KIND, app.id)
    events.record(session, user_id=user.user_id, action="app.created", resource_type=KIND, resource_id=app.id,
                  name=app.name, hostname=hostname)
    await git.init(platform, app.id, app.branch)
    try:
        await session.commit()
    except BaseException:
        git.remove(platform, app.id)
        raise
    return app


async def update(platform: Platform, session: AsyncSession, user: Principal, ref: str, body: AppUpdate) -> App:
    app = await get(session, user, ref)
    restart = False
    if body.replicas is not None and body.replicas != app.replicas:
        app.replicas, restart = body.replicas, True
    if body.memory_mb is not None and body.memory_mb != app.memory_mb:
        app.memory_mb, restart = body.memory_mb, True
    if body.app_type is not None:
        app.type_override = body.app_type
    if body.branch is not None:
        app.branch = body.branch
    if body.git_secret is not None:
        if body.git_secret and not app.git_url:
            raise InvalidInput("git_secret is for cloning a private git_url; this app has none")
        if body.git_secret:
            await secrets.find(session, user, body.git_secret)
        app.git_secret = body.git_secret or None
    events.record(session, user_id=user.user_id, action="app.updated", resource_type=KIND, resource_id=app.id,
                  **body.model_dump(exclude_none=True))
    await session.commit()
    if restart and app.current_release_id and app.status == "running":
        await restart_app(platform, session, user, app.id)
        await session.refresh(app)
    return app


# --- config vars -----------------------------------------------------------------------------------

async def config(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> dict[str, str]:
    app = await get(session, user, ref)
    return runtime.unseal_config(platform, app.user_id, app.config_sealed)


async def change_config(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                        body: ConfigChange) -> dict[str, str]:
    """Set/unset config vars; with a release serving, a new release with the new config is made and
    switched to (it must pass its health check; otherwise the config stays as it was)."""
    app = await get(session, user, ref)
    current = runtime.unseal_config(platform, app.user_id, app.config_sealed)
    wanted = {k: v for k, v in current.items() if k not in body.unset} | body.set
    if len(wanted) > 100:
        raise InvalidInput("at most 100 config vars")
    if wanted == current:
        return current
    sealed = runtime.seal_config(platform, app.user_id, wanted)
    changed = sorted(set(body.set) | (set(body.unset) & set(current)))
    description = ("Set " + ", ".join(sorted(body.set)) if body.set else "") + \
        ("; " if body.set and body.unset else "") + ("Unset " + ", ".join(sorted(body.unset)) if body.unset else "")
    release = await session.get(Release, app.current_release_id) if app.current_release_id else None
    if release is not None:
        await runtime.check_runnable(platform, app, release)  # 400 and the config unchanged
    if release is None:
        app.config_sealed = sealed
        events.record(session, user_id=user.user_id, action="app.config_changed", resource_type=KIND,
                      resource_id=app.id, keys=changed)
        await session.commit()
        return wanted
    app_id = app.id
    async with pipeline.deploy_lock(platform, app_id):
        fresh, new = await pipeline.new_release(
            platform, app_id, image=release.image, git_rev=release.git_rev, process=release.process,
            command=release.command, release_command=None, config_sealed=sealed, description=description[:200],
            build_id=release.build_id, slug=release.slug)
        await pipeline.switch(platform, fresh, new, lambda line: None)
        async with platform.db.session() as s2:
            row = await s2.get(App, app_id)
            assert row is not None
            row.config_sealed = sealed
            events.record(s2, user_id=user.user_id, action="app.config_changed", resource_type=KIND,
                          resource_id=app_id, keys=changed, version=new.version)
            await s2.commit()
    return wanted


# --- releases and rollback -------------------------------------------------------------------------

def release_out(release: Release, current: str | None) -> ReleaseOut:
    return ReleaseOut(id=release.id, version=release.version, status=release.status, description=release.description,
                      git_rev=release.git_rev, process=release.process, command=release.command,
                      build_id=release.build_id, current=release.id == current, error=release.error,
                      created_at=aware(release.created_at))


async def releases(session: AsyncSession, user: Principal, ref: str) -> list[ReleaseOut]:
    app = await get(session, user, ref)
    rows = (await session.scalars(select(Release).where(Release.app_id == app.id)
                                  .order_by(Release.version.desc()))).all()
    return [release_out(r, app.current_release_id) for r in rows]


async def rollback(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                   version: int | None) -> Release:
    """A new release with the image and config of release ``version`` (no rebuild)."""
    app = await get(session, user, ref)
    current = await session.get(Release, app.current_release_id) if app.current_release_id else None
    if version is None:
        if current is None:
            raise InvalidInput("the app has no release to roll back from")
        version = await session.scalar(select(Release.version).where(
            Release.app_id == app.id, Release.version < current.version, Release.status != "failed")
            .order_by(Release.version.desc()).limit(1))
        if version is None:
            raise InvalidInput("there is no earlier release to roll back to")
    target = await session.scalar(select(Release).where(Release.app_id == app.id, Release.version == version))
    if target is None:
        raise not_found("release", f"v{version}")
    await runtime.check_runnable(platform, app, target)
    app_id = app.id
    async with pipeline.deploy_lock(platform, app_id):
        fresh, new = await pipeline.new_release(
            platform, app_id, image=target.image, git_rev=target.git_rev, process=target.process,
            command=target.command, release_command=None, config_sealed=target.config_sealed,
            description=f"Rollback to v{target.version}", build_id=target.build_id, slug=target.slug)
        await pipeline.switch(platform, fresh, new, lambda line: None)
        async with platform.db.session() as s2:
            row = await s2.get(App, app_id)
            assert row is not None
            row.config_sealed = target.config_sealed
            await s2.commit()
    return new


# --- builds ----------------------------------------------------------------------------------------

def build_out(row: Build) -> BuildOut:
    return BuildOut(id=row.id, number=row.number, status=row.status, git_rev=row.git_rev, app_type=row.app_type,
                    error=row.error, created_at=aware(row.created_at),
                    finished_at=aware(row.finished_at) if row.finished_at else None)


async def builds(session: AsyncSession, user: Principal, ref: str) -> list[BuildOut]:
    app = await get(session, user, ref)
    rows = (await session.scalars(select(Build).where(Build.app_id == app.id).order_by(Build.number.desc())
                                  .limit(100))).all()
    return [build_out(r) for r in rows]


async def build_log(session: AsyncSession, user: Principal, ref: str, build_ref: str) -> str:
    app = await get(session, user, ref)
    row = await session.scalar(select(Build).where(Build.app_id == app.id, (Build.id == build_ref) | (
        Build.number == (int(build_ref) if build_ref.isdigit() and len(build_ref) < 9 else -1))))
    if row is None:
        raise not_found("build", build_ref)
    return row.log


# --- start, stop, restart, logs --------------------------------------------------------------------

async def _current(session: AsyncSession, app: App) -> Release:
    release = await session.get(Release, app.current_release_id) if app.current_release_id else None
    if release is None:
        raise InvalidInput(f"app '{app.name}' has no release yet: push to its git remote first")
    return release


async def restart_app(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> App:
    """Start the current release afresh (new containers, health check, switch, old ones drained)."""
    app = await get(session, user, ref)
    release = await _current(session, app)
    await runtime.check_runnable(platform, app, release)  # 400: the app stays as it is (still serving)
    app_id = app.id
    async with pipeline.deploy_lock(platform, app_id):
        fresh = await session.get(App, app_id)
        await session.refresh(fresh)
        assert fresh is not None
        await pipeline.switch(platform, fresh, release, lambda line: None)
    await session.refresh(app)
    return app


async def stop(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> App:
    app = await get(session, user, ref)
    async with pipeline.deploy_lock(platform, app.id):
        app.status, app.upstreams = "stopped", ""
        events.record(session, user_id=user.user_id, action="app.stopped", resource_type=KIND, resource_id=app.id)
        await session.commit()
        await providers.changed(platform)
        await runtime.retire(platform, app.id, None)
    return app


async def logs(platform: Platform, session: AsyncSession, user: Principal, ref: str, tail: int) -> list[str]:
    app = await get(session, user, ref)
    return await app_logs.lines(platform, app, tail)


# --- domains ---------------------------------------------------------------------------------------

async def add_domain(platform: Platform, session: AsyncSession, user: Principal, ref: str, hostname: str) -> App:
    app = await get(session, user, ref)
    host = hostnames.check_custom(platform.settings, hostname, user.user_id)
    count = len((await session.scalars(select(AppDomain.hostname).where(AppDomain.app_id == app.id))).all())
    if count >= MAX_DOMAINS:
        raise InvalidInput(f"an app has at most {MAX_DOMAINS} custom domains")
    existing = await session.get(AppDomain, host)
    if existing is not None:
        if existing.app_id == app.id:
            return app
        raise Conflict(f"hostname {host} is already used by another app")
    await hostnames.claim(session, user.user_id, host, KIND, app.id)
    session.add(AppDomain(hostname=host, app_id=app.id, user_id=user.user_id))
    await flush_or_conflict(session, f"hostname {host} is already in use")
    events.record(session, user_id=user.user_id, action="app.domain_added", resource_type=KIND, resource_id=app.id,
                  hostname=host)
    await session.commit()
    await providers.changed(platform)
    return app


async def remove_domain(platform: Platform, session: AsyncSession, user: Principal, ref: str, hostname: str) -> None:
    app = await get(session, user, ref)
    host = hostname.strip().rstrip(".").lower()
    row = await session.get(AppDomain, host)
    if row is None or row.app_id != app.id:
        raise not_found("domain", hostname)
    await session.delete(row)
    from cumulo.services.gateway.models import HostnameClaim

    await session.execute(sa_delete(HostnameClaim).where(HostnameClaim.hostname == host, HostnameClaim.kind == KIND,
                                                         HostnameClaim.resource_id == app.id))
    events.record(session, user_id=user.user_id, action="app.domain_removed", resource_type=KIND,
                  resource_id=app.id, hostname=host)
    await session.commit()
    await providers.changed(platform)


# --- delete ----------------------------------------------------------------------------------------

async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    app = await get(session, user, ref)
    if app.deploy_token:
        raise Conflict(f"app '{app.name}' is deploying; delete it when the deploy has finished")
    images = set((await session.scalars(select(Release.image).where(Release.app_id == app.id))).all())
    await hostnames.release(session, KIND, app.id)
    await session.execute(sa_delete(AppDomain).where(AppDomain.app_id == app.id))
    await session.execute(sa_delete(Release).where(Release.app_id == app.id))
    await session.execute(sa_delete(Build).where(Build.app_id == app.id))
    await network.release_instance(session, app.id)
    await session.delete(app)
    events.record(session, user_id=user.user_id, action="app.deleted", resource_type=KIND, resource_id=app.id,
                  name=app.name)
    await session.commit()
    await providers.changed(platform)
    await runtime.retire(platform, app.id, None)
    driver = compute_driver(platform)
    for image in images:
        with contextlib.suppress(CumuloError):
            await driver.remove_image(image)
    git.remove(platform, app.id)
    build.purge_cache(platform, app.id)
    build.remove_slugs(platform, app.id)
    await build.remove_deps_images(platform, app.id)
    with contextlib.suppress(CumuloError):
        await network.retire_default_vpc(platform, user.user_id)


# --- deploys ---------------------------------------------------------------------------------------

async def push(platform: Platform, app_id: str, refs: str, archive: Path, log_fn: Callable[[str], None]) -> int:
    """The pre-receive hook's work: deploy the app's branch if it was pushed; 0 accepts the push."""
    async with platform.db.session() as session:
        app = await session.get(App, app_id)
    if app is None:
        log_fn("-----> Push rejected: the app was deleted\n")
        return 1
    branch_ref = f"refs/heads/{app.branch}"
    pushed = {parts[2]: parts[1] for line in refs.splitlines() if len(parts := line.split()) == 3}
    if branch_ref not in pushed:
        log_fn(f"-----> Only pushes to '{app.branch}' deploy; pushed {', '.join(pushed) or 'nothing'}\n")
        return 0
    rev = pushed[branch_ref]
    if rev == git.ZERO:
        log_fn(f"-----> Push rejected: the deploy branch '{app.branch}' cannot be deleted\n")
        return 1
    try:
        async with pipeline.deploy_lock(platform, app_id):
            await pipeline.build_and_release(platform, app_id, archive, rev, log_fn)
    except CumuloError as exc:
        log_fn(f"-----> Push rejected: {exc.message}\n")
        return 1
    return 0


async def redeploy(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> App:
    """``POST /apps/deploy``: build the branch again (fetched again from ``git_url`` when set), in the
    background; the answer comes at once with status ``building``."""
    app = await get(session, user, ref)
    if app.deploy_token:
        raise Conflict(f"another deploy of app '{app.name}' is running; wait for it to finish and try again")
    work = Path(tempfile.mkdtemp(prefix="deploy-", dir=pipeline._tmp(platform)))
    archive = work / "source.tar"
    if app.git_url:
        from cumulo.services.apps import remote

        credential = None
        if app.git_secret:  # read for this clone only: never logged, never in the app's config
            credential = (await secrets.resolve_env(session, app.user_id, {"GIT_CREDENTIAL": app.git_secret},
                                                    platform=platform))["GIT_CREDENTIAL"]
            await session.commit()  # the read is audited (secret.accessed)
        rev: str | None = await remote.fetch(platform, app, archive, credential)
    else:
        rev = await git.archive(platform, app.id, app.branch, archive)
    if rev is None:
        raise InvalidInput(f"nothing was pushed to branch '{app.branch}' yet: push to {git_remote(platform, app)}")
    app_id = app.id

    async def run() -> None:
        try:
            async with pipeline.deploy_lock(platform, app_id):
                await pipeline.build_and_release(platform, app_id, archive, rev, lambda line: None)
        except CumuloError as exc:
            log.info("deploy of app %s failed: %s", app_id, exc.message)
        finally:
            import shutil

            shutil.rmtree(work, ignore_errors=True)

    task = asyncio.get_running_loop().create_task(run())
    tasks: set[asyncio.Task[None]] = platform.extras.setdefault("apps.deploys", set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    app.status = "building"
    return app


async def upload(platform: Platform, app_id: str, tree: Path, digest: str, log_fn: Callable[[str], None]) -> Release:
    """Deploy an uploaded tree (``POST /apps/{app}/source``, already unpacked and checked; the
    caller holds the deploy lock) as a push would; ``GIT_REV`` is the archive's SHA-1."""
    return await pipeline.build_and_release(platform, app_id, None, digest, log_fn, tree=tree)

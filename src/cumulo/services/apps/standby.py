"""One process of each running app kept started and waiting (``CUMULO_APPS_STANDBY``), so a push
that changes only code skips the engine's create and start (about half a second of the push).

After a release goes live, a *standby* container is started on the same runtime image, network,
memory and config as the release, with a small shell as its command that blocks reading its
standard input. It is labelled with the id the app's *next* release will get. When the next
release matches it (same image, config, memory, network), the release is made with that id, its
files are put into the standby, and the shell is given the release's command and environment
(``RELEASE``, ``GIT_REV``) on its input: it ``exec``s the app, which then runs as the release's
first process and is health-checked as any other. A release that does not match (new
dependencies, a config change, a rollback) starts as usual, and the standby is replaced once the
new release is live. A standby is idle (a sleeping shell, about 1 MB) and not billed; stopping or
deleting the app removes it with the app's other containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets

from sqlalchemy import select

from cumulo.core.errors import CumuloError
from cumulo.core.ids import new_id
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import ContainerState
from cumulo.platform import Platform
from cumulo.services.apps import runtime
from cumulo.services.apps.models import App, Release

log = logging.getLogger("cumulo.apps")
LABEL_STANDBY = "cumulo.app-standby"  # its value: the fingerprint of what it was started with
# line 1: the command; then NAME=value lines exported; "go": run it (stdin from /dev/null, as usual)
SHIM = ('IFS= read -r cmd || exit 0; while IFS= read -r line; do '
        '[ "$line" = go ] && exec /bin/sh -c "$cmd" </dev/null; export "$line"; done; exit 0')


def fingerprint(image_id: str, app: App, network_name: str, config_sealed: bytes | None) -> str:
    """What a standby and a release must share (the config by its sealed bytes: nothing of it shows)."""
    parts = [image_id, app.name, app.memory_mb, network_name, hashlib.sha256(config_sealed or b"").hexdigest()]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _tasks(platform: Platform) -> dict[str, asyncio.Task[None]]:
    tasks: dict[str, asyncio.Task[None]] = platform.extras.setdefault("apps.standby", {})
    return tasks


async def _spares(platform: Platform, app_id: str) -> list[ContainerState]:
    """The app's standbys not yet taken by a release (a taken one keeps its label)."""
    found = [c for c in await runtime.containers(platform, app_id) if LABEL_STANDBY in c.labels]
    if not found:
        return []
    async with platform.db.session() as session:
        taken = set((await session.scalars(select(Release.id).where(Release.app_id == app_id))).all())
    return [c for c in found if c.labels.get(runtime.LABEL_RELEASE) not in taken]


def usable(platform: Platform, slug: str | None, command: str | None) -> bool:
    """Whether a release can run on a standby: its files apart from its image, and a command of its
    own on one line (a static site runs its base image's server: it has none)."""
    return platform.settings.apps_standby and bool(slug) and bool(command) and "\n" not in (command or "")


async def reserved(platform: Platform, app: App, image: str, config_sealed: bytes | None) -> str | None:
    """The release id a new release of ``app`` on ``image`` with ``config_sealed`` should take to
    start on the app's standby (None: there is none that fits; it is then replaced after the switch)."""
    pending = _tasks(platform).get(app.id)
    if pending is not None:  # made by this process a moment ago: wait for it rather than race it
        await asyncio.gather(pending, return_exceptions=True)
    spares = [c for c in await _spares(platform, app.id) if c.running]
    if not spares:
        return None
    driver = compute_driver(platform)
    info = await driver.image(image)
    if info is None:
        return None
    wanted = fingerprint(info.id, app, await runtime.app_network(platform, app), config_sealed)
    for spare in spares:
        if spare.labels.get(LABEL_STANDBY) == wanted:
            return spare.labels.get(runtime.LABEL_RELEASE)
    return None


def taken_by(found: list[ContainerState], release: Release) -> ContainerState | None:
    """Among the app's containers ``found``, the running standby reserved for ``release`` (``reserved``)."""
    for spare in found:
        if LABEL_STANDBY in spare.labels and spare.labels.get(runtime.LABEL_RELEASE) == release.id and spare.running:
            return spare
    return None


def input_of(release: Release) -> bytes:
    """What the standby's shell reads: the command, the release's own environment, "go"."""
    env = {"RELEASE": f"v{release.version}"}
    if release.git_rev:
        env["GIT_REV"] = release.git_rev
    assert release.command
    lines = [release.command, *(f"{k}={v}" for k, v in env.items()), "go"]
    assert all("\n" not in line for line in lines)
    return ("\n".join(lines) + "\n").encode()


async def _prepare(platform: Platform, app_id: str, release_id: str) -> None:
    driver = compute_driver(platform)
    async with platform.db.session() as session:
        app = await session.get(App, app_id)
        release = await session.get(Release, release_id)
    for old in await _spares(platform, app_id):
        with contextlib.suppress(CumuloError):
            await driver.destroy(old.id)
    if app is None or release is None or app.status != "running" or app.current_release_id != release_id:
        return
    info = await driver.image(release.image)
    if info is None:
        return
    network_name = await runtime.app_network(platform, app)
    future = new_id()
    spec = runtime.spec(platform, app, release, f"cumulo-app-{app.id[:8]}-standby-{secrets.token_hex(3)}",
                        network_name, ["/bin/sh", "-c", SHIM], release_id=future)
    spec.labels[LABEL_STANDBY] = fingerprint(info.id, app, network_name, release.config_sealed)
    spec.env = {k: v for k, v in spec.env.items() if k not in ("RELEASE", "GIT_REV")}  # given when it is taken
    spec.stdin_open = True
    state = await driver.create(spec)
    try:
        await driver.start(state.id)
    except BaseException:
        with contextlib.suppress(CumuloError):
            await driver.destroy(state.id)
        raise
    async with platform.db.session() as session:  # stopped or deleted meanwhile: not kept
        fresh = await session.get(App, app_id)
    if fresh is None or fresh.status != "running":
        with contextlib.suppress(CumuloError):
            await driver.destroy(state.id)


def prepare_later(platform: Platform, app: App, release: Release) -> None:
    """Replace the app's standby by one fitting ``release`` (just switched to), in the background."""
    if not usable(platform, release.slug, release.command):
        return

    async def run() -> None:
        try:
            await _prepare(platform, app.id, release.id)
        except CumuloError as exc:
            log.warning("app %s: no standby process (%s)", app.name, exc.message)
        finally:
            if _tasks(platform).get(app.id) is task:
                del _tasks(platform)[app.id]

    task = asyncio.get_running_loop().create_task(run())
    _tasks(platform)[app.id] = task


async def remove(platform: Platform, app_id: str, ended_only: bool = False) -> None:
    """Remove the app's standbys not taken by a release (the app stopped or failed; ``ended_only``:
    those no longer running)."""
    for spare in await _spares(platform, app_id):
        if ended_only and spare.running:
            continue
        with contextlib.suppress(CumuloError):
            await compute_driver(platform).destroy(spare.id)

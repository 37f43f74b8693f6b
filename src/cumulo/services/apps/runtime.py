"""Running a release: containers on the owner's default VPC, the health check, the switch, the drain.

A deploy starts the new release's containers beside the old ones, waits until each answers HTTP on
``$PORT`` (a worker: stays up for a few seconds), then records their addresses as the app's
upstreams (the gateway pushes the route to Caddy) and stops the old containers after
``CUMULO_APPS_DRAIN_SECONDS``. A release that fails is removed and never switched to.

Config vars reach the container as secret files exported into the environment by the compute
driver's wrapper: never in the engine's container config.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import httpx

from cumulo.core import crypto
from cumulo.core.errors import CumuloError, InvalidInput
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import (
    LABEL_INSTALLATION,
    LABEL_KIND,
    LABEL_OWNER,
    LABEL_RESOURCE,
    ContainerSpec,
    ContainerState,
)
from cumulo.platform import Platform
from cumulo.services.apps import build
from cumulo.services.apps.build import PORT
from cumulo.services.apps.models import CONTAINER_CPUS, App, Release
from cumulo.services.network import service as network

log = logging.getLogger("cumulo.apps")
LABEL_RELEASE = "cumulo.app-release"
WORKER_SETTLE = 3.0
LogFn = Callable[[str], None]


def seal_config(platform: Platform, owner_id: str, config: dict[str, str]) -> bytes | None:
    if not config:
        return None
    return crypto.seal(platform, json.dumps(config, sort_keys=True).encode(), owner_id.encode())


def unseal_config(platform: Platform, owner_id: str, sealed: bytes | None) -> dict[str, str]:
    if not sealed:
        return {}
    return dict(json.loads(crypto.unseal(platform, sealed, owner_id.encode())))


def labels(platform: Platform, app: App, release_id: str | None = None) -> dict[str, str]:
    out = {LABEL_INSTALLATION: platform.installation_id, LABEL_OWNER: app.user_id, LABEL_RESOURCE: app.id,
           LABEL_KIND: "app"}
    if release_id:
        out[LABEL_RELEASE] = release_id
    return out


async def containers(platform: Platform, app_id: str) -> list[ContainerState]:
    return await compute_driver(platform).list({LABEL_INSTALLATION: platform.installation_id,
                                                 LABEL_KIND: "app", LABEL_RESOURCE: app_id})


async def app_network(platform: Platform, app: App) -> str:
    """The name of the app's network (its owner's default VPC, made when missing), attached to it."""
    vpc = await network.default_vpc(platform, app.user_id)
    async with platform.db.session() as session:  # the VPC counts as used while the app exists
        if await network.attachment_of(session, app.id) is None:
            await network.attachment_for(platform, session, app.user_id, vpc.id, None, instance_id=app.id)
            await session.commit()
    return vpc.network_name


async def _files(platform: Platform, app: App, release: Release) -> bytes | None:
    """The release's files (its slug, made again when gone), put into each of its containers; None: all
    in the image."""
    if not release.slug:
        return None
    await build.restore_slug(platform, app, release)
    return await asyncio.to_thread(build.read_slug, platform, app.id, release.slug)


async def check_runnable(platform: Platform, app: App, release: Release) -> None:
    """400 unless ``release`` can be started: its image is there, and its files (made again from its
    commit when they are gone): a start, restart, config change or rollback fails before anything changes."""
    if await compute_driver(platform).image(release.image) is None:
        raise InvalidInput(f"release v{release.version} cannot start: its image is gone from the server; push "
                           "again to rebuild it")
    await build.restore_slug(platform, app, release)


def spec(platform: Platform, app: App, release: Release, name: str, network_name: str,
         command: list[str] | None = None, files: bytes | None = None, release_id: str | None = None) -> ContainerSpec:
    """A container of ``release`` (``release_id``: labelled as that release's instead, a standby's)."""
    env = {"PORT": str(PORT), "APP_NAME": app.name, "RELEASE": f"v{release.version}"}
    if release.git_rev:
        env["GIT_REV"] = release.git_rev
    secret = unseal_config(platform, app.user_id, release.config_sealed)
    return ContainerSpec(name=name, image=release.image, labels=labels(platform, app, release_id or release.id),
                         command=command,
                         env=env, memory_mb=app.memory_mb, cpus=CONTAINER_CPUS, pids_limit=256, network=network_name,
                         hostname=app.name, secret_files=secret, files_archive=files)


INSPECT_EVERY = 0.25  # while polling HTTP: how often the engine is asked whether the process still runs


async def _healthy(platform: Platform, ref: str, worker: bool, log_fn: LogFn,
                   state: ContainerState | None = None) -> ContainerState:
    """Wait until the container ``ref`` answers HTTP on ``$PORT`` (a worker: stays up); ``state``: as
    the engine answered when it was started (its address), so the first try needs no inspect."""
    driver = compute_driver(platform)
    started = time.monotonic()
    deadline = started + platform.settings.apps_health_seconds
    up_since: float | None = None
    inspected = started if state is not None else 0.0
    # a quick connect timeout: a process that died meanwhile leaves an address nobody answers on
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0, connect=0.5), trust_env=False) as http:
        while True:
            if state is None or worker or time.monotonic() - inspected >= INSPECT_EVERY:
                state, inspected = await driver.find(ref), time.monotonic()
            if state is None or not state.running:
                tail = ""
                if state is not None:
                    with contextlib.suppress(CumuloError):
                        tail = (await driver.logs(ref, 20)).strip()
                code = state.exit_code if state else None
                raise InvalidInput(f"the process exited (code {code}) before it was healthy"
                                   + (f"; last output:\n{tail}" if tail else ""))
            if worker:
                up_since = up_since or time.monotonic()
                if time.monotonic() - up_since >= WORKER_SETTLE:
                    return state
            elif state.ip_address:
                try:
                    await http.get(f"http://{state.ip_address}:{PORT}/")
                    return state
                except httpx.HTTPError:
                    pass
            else:
                state = None  # no address yet: ask the engine again
            if time.monotonic() > deadline:
                raise InvalidInput(f"no HTTP answer on $PORT ({PORT}) within "
                                   f"{int(platform.settings.apps_health_seconds)} s (the app must listen on "
                                   "0.0.0.0:$PORT)")
            # most apps answer within a few seconds: look often then (the deploy waits on it), then less
            # (a refused connection costs next to nothing; the engine is asked every INSPECT_EVERY; a
            # worker, which has only the engine's word, every time)
            await asyncio.sleep(0.05 if worker else 0.02 if time.monotonic() - started < 5 else 0.2)


async def run_release_command(platform: Platform, app: App, release: Release, network_name: str,
                              log_fn: LogFn) -> None:
    assert release.release_command
    driver = compute_driver(platform)
    name = f"cumulo-app-{app.id[:8]}-v{release.version}-release-{secrets.token_hex(3)}"
    log_fn(f"-----> Running release command: {release.release_command}\n")
    state = await driver.create(spec(platform, app, release, name, network_name,
                                      ["/bin/sh", "-c", release.release_command], await _files(platform, app, release)))
    try:
        await driver.start(state.id)
        deadline = time.monotonic() + platform.settings.apps_build_timeout_seconds
        while (current := await driver.find(state.id)) is not None and current.running:
            if time.monotonic() > deadline:
                raise InvalidInput("the release command did not finish in time")
            await asyncio.sleep(0.2)
        output = await driver.logs(state.id, 200)
        for line in output.splitlines():
            log_fn(f"       {line}\n")
        code = current.exit_code if current else None
        if code != 0:
            raise InvalidInput(f"the release command failed (exit code {code}): the deploy stops here")
    finally:
        with contextlib.suppress(CumuloError):
            await driver.destroy(state.id)


async def start(platform: Platform, app: App, release: Release, log_fn: LogFn,
                network_ready: Awaitable[str] | None = None, standby: ContainerState | None = None,
                standby_input: bytes = b"") -> list[str]:
    """Start ``app.replicas`` containers of ``release`` and wait for them to be healthy; returns their
    upstreams (``ip:port``, none for a worker). On failure every container started here is removed.
    ``network_ready``: ``app_network()`` already under way. ``standby``: a waiting process of the
    app's (``standby.py``) that becomes the first one, given the files and then ``standby_input``."""
    driver = compute_driver(platform)
    network_name = await (network_ready if network_ready is not None else app_network(platform, app))
    if release.release_command:
        await run_release_command(platform, app, release, network_name, log_fn)
    files = await _files(platform, app, release)
    started: list[str] = []
    try:
        upstreams: list[str] = []
        for n in range(max(1, app.replicas)):
            how, running = "", None
            if n == 0 and standby is not None:
                started.append(standby.id)
                try:
                    if files is not None:
                        await driver.put_files(standby.id, files)
                    await driver.write_stdin(standby.id, standby_input)
                    running, how = standby, ", on the standby process"
                except CumuloError as exc:  # removed or ended meanwhile: a container of its own, as usual
                    log.info("app %s: the standby process could not be used (%s)", app.name, exc.message)
                    started.remove(standby.id)
                    with contextlib.suppress(CumuloError):  # never left as a process of the release
                        await driver.destroy(standby.id)
            if running is None:
                name = f"cumulo-app-{app.id[:8]}-v{release.version}-{n}-{secrets.token_hex(3)}"
                state = await driver.create(spec(platform, app, release, name, network_name, files=files))
                started.append(state.id)
                running = await driver.start(state.id)
            log_fn(f"-----> Starting v{release.version} ({release.process} {n + 1}/{max(1, app.replicas)}{how})\n")
            healthy = await _healthy(platform, running.id, release.process == "worker", log_fn, running)
            if release.process != "worker":
                upstreams.append(f"{healthy.ip_address}:{PORT}")
        return upstreams
    except BaseException:
        for ref in started:
            with contextlib.suppress(CumuloError):
                await driver.destroy(ref)
        raise


async def retire(platform: Platform, app_id: str, keep_release: str | None, delay: float = 0.0,
                 only: set[str] | None = None) -> None:
    """Remove the app's containers of every release but ``keep_release`` (``only``: exactly these
    ids, whatever their release), after ``delay`` (the drain)."""
    if delay:
        await asyncio.sleep(delay)
    driver = compute_driver(platform)
    for state in await containers(platform, app_id):
        if only is not None:
            if state.id not in only:
                continue
        elif keep_release is not None and state.labels.get(LABEL_RELEASE) == keep_release:
            continue
        with contextlib.suppress(CumuloError):
            await driver.destroy(state.id)


def retire_later(platform: Platform, app_id: str, keep_release: str, only: set[str]) -> None:
    """``retire`` of the containers ``only`` that served before a switch, after the drain."""
    task = asyncio.get_running_loop().create_task(
        retire(platform, app_id, keep_release, platform.settings.apps_drain_seconds, only))
    tasks: set[asyncio.Task[None]] = platform.extras.setdefault("apps.drains", set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)

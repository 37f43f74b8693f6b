"""Building an app's image from a checked-out tree: detection, dependencies, Dockerfile, engine build.

Every build runs on the catalogue images (``cumulo/python``, ``cumulo/node``, ``cumulo/nginx``) or,
for a ``Dockerfile`` app, on what the images service lets the owner build from (catalogue images and
their own, every ``FROM`` resolved to a full id, remote ``ADD`` and BuildKit features refused).
The engine build has no network (``CUMULO_IMAGE_BUILD_NETWORK``) and the memory limit of user image
builds; dependencies come in as a directory of the context, installed on the server (``deps``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cumulo.core.errors import CumuloError, InvalidInput
from cumulo.core.principal import Principal
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_KIND, LABEL_OWNER, LABEL_RESOURCE
from cumulo.platform import Platform
from cumulo.services.apps import deps, detect, source
from cumulo.services.apps.models import App
from cumulo.services.images import references
from cumulo.services.images import service as images

PORT = 5000
DEPS_REPO = "cumulo-appdeps"
LABEL_DEPS = "cumulo.app-deps"  # on an app's dependency images: the app's id
SKIP = {".git", "node_modules", "__pycache__", ".venv"}
NGINX_SITE = """server {
    listen 5000 default_server;
    root /var/www/html;
    index index.html;
    location / { try_files $uri $uri/ =404; }
}
"""
LogFn = Callable[[str], None]


@dataclass
class Built:
    image: str  # engine tag
    plan: detect.Plan


def app_dir(platform: Platform, app_id: str) -> Path:
    s = platform.settings
    return (Path(s.apps_cache_dir) if s.apps_cache_dir else s.data_dir / "apps" / "cache") / app_id


def purge_cache(platform: Platform, app_id: str) -> None:
    shutil.rmtree(app_dir(platform, app_id), ignore_errors=True)


def _principal(app: App) -> Principal:
    return Principal(user_id=app.user_id, email="", name="", role="user", key_id="")


def _label_line(labels: dict[str, str]) -> str:
    return "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))


def _generated(base: str, plan: detect.Plan, deps_dir: str | None, labels: dict[str, str]) -> str:
    """Everything but the app's own files comes first (cached from one push to the next): the only
    step a code-only push runs is the last ``COPY``. ``PORT`` and ``GIT_REV`` come at run time."""
    return _prefix(base, plan, deps_dir, labels) + _CODE[plan.app_type == "static"]


_CODE = ("COPY app/ /app/\n", "COPY app/ /var/www/html/\n")


def _prefix(base: str, plan: detect.Plan, deps_dir: str | None, labels: dict[str, str]) -> str:
    """The Dockerfile up to (not including) the ``COPY`` of the app's files."""
    lines = [f"FROM {base}"]
    if plan.app_type == "static":
        lines += ["RUN rm -f /etc/nginx/sites-enabled/default",
                  "COPY .cumulo/site.conf /etc/nginx/sites-enabled/default", _label_line(labels)]
        return "\n".join(lines) + "\n"
    if plan.app_type == "nodejs":
        lines += ["WORKDIR /app"]
        if deps_dir:
            lines += ["COPY deps/ /app/node_modules/"]
        lines += [f"ENV NODE_ENV=production PATH=/app/node_modules/.bin:$PATH PORT={PORT}"]
    else:
        lines += ["WORKDIR /app"]
        if deps_dir:
            lines += ["COPY deps/ /opt/cumulo-deps/"]
        lines += [f"ENV PYTHONPATH=/opt/cumulo-deps PATH=/opt/cumulo-deps/bin:$PATH PYTHONUNBUFFERED=1 PORT={PORT}"]
    lines += [f"CMD {json.dumps(['/bin/sh', '-c', plan.command or 'exit 1'])}", _label_line(labels)]
    return "\n".join(lines) + "\n"


async def _deps_image(platform: Platform, app: App, prefix: str, deps_dir: Path, log: LogFn) -> str:
    """The image of everything but the app's files (the base, its installed dependencies, the
    environment and command), built once per set of dependencies and kept: a code-only push builds
    ``FROM`` it with only the app's files as the context, so the dependencies are neither tarred
    nor sent to the engine again. Its engine id."""
    s = platform.settings
    driver = compute_driver(platform)
    tag = f"{DEPS_REPO}/{app.id}:" + hashlib.sha256(prefix.encode()).hexdigest()[:20]
    info = await driver.image(tag)
    if info is not None:
        log("       dependency image unchanged: reusing it (only the app's files are sent to the engine)\n")
        return info.id
    log("-----> Building the dependency image\n")
    ctx = await asyncio.to_thread(source.context, prefix, [(deps_dir, "deps", set())])
    info = await driver.build_image(ctx, tag, {}, on_log=lambda line: log("       " + line),
                                    memory_mb=s.image_build_memory_mb, network=s.image_build_network)
    await remove_deps_images(platform, app.id, keep=tag)
    return info.id


async def remove_deps_images(platform: Platform, app_id: str, keep: str | None = None) -> None:
    """Untag the app's dependency images but ``keep`` (a release's image built on one keeps its layers)."""
    driver = compute_driver(platform)
    with contextlib.suppress(CumuloError):
        for info in await driver.images({LABEL_DEPS: app_id}):
            for tag in info.tags:
                if tag.startswith(f"{DEPS_REPO}/{app_id}:") and tag != keep:
                    with contextlib.suppress(CumuloError):
                        await driver.remove_image(tag)


async def _dockerfile_build(platform: Platform, app: App, tree: Path, tag: str, labels: dict[str, str],
                            log: LogFn, git_rev: str) -> None:
    text = (tree / "Dockerfile").read_bytes()[:64 * 1024].decode("utf-8", "replace")
    async with platform.db.session() as session:
        plan = await images.plan_build(platform, session, _principal(app), text)
    for ref, engine_id in plan.resolved.items():
        log(f"       {ref} is {engine_id[:19]}\n")
    driver = compute_driver(platform)
    held: list[str] = []
    try:
        for n, engine_id in enumerate(plan.keep):  # the owner's images it uses stay while it builds
            await driver.tag_image(engine_id, f"cumulo-build/{app.id}:{n}")
            held.append(f"cumulo-build/{app.id}:{n}")
        dockerfile = plan.dockerfile + f"ENV PORT={PORT} GIT_REV={git_rev}\n{_label_line(labels)}\n"
        ctx = await asyncio.to_thread(source.context, dockerfile, [(tree, "", {".git", "Dockerfile"})])
        await driver.build_image(ctx, tag, {}, on_log=log, memory_mb=platform.settings.image_build_memory_mb,
                                 network=platform.settings.image_build_network)
    finally:
        for held_tag in held:
            with contextlib.suppress(CumuloError):
                await driver.remove_image(held_tag)


async def build(platform: Platform, app: App, tree: Path, number: int, git_rev: str, log: LogFn) -> Built:
    """Detect, install dependencies, build ``cumulo-app/<app id>:b<number>``; raises ``CumuloError``
    with the reason (the caller records it)."""
    s = platform.settings
    plan = await asyncio.to_thread(detect.detect, tree, app.type_override)
    log(f"-----> {plan.app_type} app detected" + (f" ({plan.framework})" if plan.framework else "")
        + (f", {plan.process}: {plan.command}" if plan.command else "") + "\n")
    tag = f"cumulo-app/{app.id}:b{number}"
    labels = {LABEL_INSTALLATION: platform.installation_id, LABEL_OWNER: app.user_id, LABEL_RESOURCE: app.id,
              LABEL_KIND: "app"}
    driver = compute_driver(platform)
    if plan.app_type == "docker":
        await _dockerfile_build(platform, app, tree, tag, labels, log, git_rev)
    else:
        base = {"nodejs": "cumulo/node", "static": "cumulo/nginx"}.get(plan.app_type, "cumulo/python")
        async with platform.db.session() as session:
            usable = await references.usable(platform, session, app.user_id)
        base_id = usable.find(base).engine_id
        cache = app_dir(platform, app.id)
        deps_dir: Path | None = None
        if plan.app_type in ("python", "telegram-bot"):
            wanted = deps.python_requirements(tree) + plan.extra_python
            if wanted:
                log(f"-----> Installing {len(wanted)} Python requirement(s)\n")
                deps_dir, reused = await deps.python(cache, wanted, s.apps_pip, log, s.apps_build_timeout_seconds)
                log("       dependencies unchanged: reusing the cached install\n" if reused else "")
        elif plan.app_type == "nodejs":
            manifest, lock = deps.node_manifest(tree, s.apps_npm_registry)
            if manifest["dependencies"]:
                log(f"-----> Installing Node.js dependencies ({'npm ci' if lock else 'npm install'})\n")
                deps_dir, reused = await deps.node(cache, manifest, lock, s.apps_npm, log,
                                                   s.apps_build_timeout_seconds)
                log("       dependencies unchanged: reusing the cached install\n" if reused else "")
        if deps_dir is not None:
            prefix = _prefix(base_id, plan, str(deps_dir), labels | {LABEL_DEPS: app.id})  # one LABEL step
            deps_id = await _deps_image(platform, app, prefix, deps_dir, log)
            dockerfile = f"FROM {deps_id}\n" + _CODE[False]
        else:
            dockerfile = _generated(base_id, plan, None, labels)
        trees = [(tree, "app", SKIP)]
        ctx = await asyncio.to_thread(source.context, dockerfile, trees,
                                      {".cumulo/site.conf": NGINX_SITE} if plan.app_type == "static" else None)
        log("-----> Building the image\n")
        await driver.build_image(ctx, tag, {}, on_log=lambda line: log("       " + line),
                                 memory_mb=s.image_build_memory_mb, network=s.image_build_network)
    info = await driver.image(tag)
    if info is None:
        raise InvalidInput("the build produced no image")
    if info.size_bytes > s.apps_max_image_mb * 1024 * 1024:
        with contextlib.suppress(CumuloError):
            await driver.remove_image(tag)
        raise InvalidInput(f"the image is {info.size_bytes // (1024 * 1024)} MB: at most {s.apps_max_image_mb} MB "
                           "(CUMULO_APPS_MAX_IMAGE_MB)")
    log(f"-----> Image built ({info.size_bytes // (1024 * 1024)} MB)\n")
    return Built(tag, plan)

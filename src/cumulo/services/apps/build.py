"""Building an app's release from a checked-out tree: detection, dependencies, the runtime image, the
app's files.

A detected app (Python, Node.js, static) is a *runtime image* plus its files, as a Heroku release is
a slug on a stack: the image holds the catalogue base (``cumulo/python``, ``cumulo/node``,
``cumulo/nginx``), the dependencies installed on the server (``deps``), the environment and the
command, and is built once per app and set of dependencies (``cumulo-appdeps/<app>:<hash>``); the
app's files are a tar kept by Cumulo (``slug_path``) and put into each container of the release
before it starts. A push that changes only code builds no image at all.
A ``Dockerfile`` app is built whole on what the images service lets the owner build from
(catalogue images and their own, every ``FROM`` resolved to a full id, remote ``ADD`` and BuildKit
features refused). Engine builds have no network (``CUMULO_IMAGE_BUILD_NETWORK``) and the memory
limit of user image builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cumulo.core.errors import CumuloError, InvalidInput
from cumulo.core.principal import Principal
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_KIND, LABEL_OWNER, LABEL_RESOURCE, ImageInfo
from cumulo.platform import Platform
from cumulo.services.apps import deps, detect, git, source
from cumulo.services.apps.models import App, Release
from cumulo.services.images import references
from cumulo.services.images import service as images

logger = logging.getLogger("cumulo.apps")
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
    slug: str | None = None  # the app's files, put into each container (``slug_path``); None: in the image


def app_dir(platform: Platform, app_id: str) -> Path:
    s = platform.settings
    return (Path(s.apps_cache_dir) if s.apps_cache_dir else s.data_dir / "apps" / "cache") / app_id


def purge_cache(platform: Platform, app_id: str) -> None:
    shutil.rmtree(app_dir(platform, app_id), ignore_errors=True)


def _principal(app: App) -> Principal:
    return Principal(user_id=app.user_id, email="", name="", role="user", key_id="")


def _label_line(labels: dict[str, str]) -> str:
    return "LABEL " + " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))


def _prefix(base: str, plan: detect.Plan, deps_dir: str | None, labels: dict[str, str]) -> str:
    """The Dockerfile of the runtime image: everything but the app's files (``PORT`` and ``GIT_REV``
    also come at run time). The installed set is named in a comment: its digest is part of the image's
    tag (``_deps_tag``), so new dependencies make a new image."""
    lines = [f"FROM {base}"] + ([f"# dependencies: {Path(deps_dir).name}"] if deps_dir else [])
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


def _deps_tag(app: App, prefix: str) -> str:
    return f"{DEPS_REPO}/{app.id}:" + hashlib.sha256(prefix.encode()).hexdigest()[:20]


async def _runtime_image(platform: Platform, app: App, plan: detect.Plan, prefix: str, deps_dir: Path | None,
                         log: LogFn) -> ImageInfo:
    """The image of everything but the app's files (the base, its installed dependencies, the
    environment and command), built once per app and ``prefix`` and kept under ``cumulo-appdeps/``:
    a push that changes only code builds nothing; its files go into the release's containers."""
    s = platform.settings
    driver = compute_driver(platform)
    tag = _deps_tag(app, prefix)
    info = await driver.image(tag)
    if info is not None:
        log("       dependency image unchanged: reusing it (no image build: the app's files go into its "
            "containers)\n")
        return info
    log("-----> Building the runtime image (base, dependencies, environment, command)\n")
    ctx = await asyncio.to_thread(source.context, prefix, [(deps_dir, "deps", set())] if deps_dir else [],
                                  {".cumulo/site.conf": NGINX_SITE} if plan.app_type == "static" else None)
    info = await driver.build_image(ctx, tag, {}, on_log=lambda line: log("       " + line),
                                    memory_mb=s.image_build_memory_mb, network=s.image_build_network)
    await remove_deps_images(platform, app.id, keep=tag)
    return info


def slugs_dir(platform: Platform, app_id: str) -> Path:
    return platform.settings.data_dir / "apps" / "slugs" / app_id


def slug_path(platform: Platform, app_id: str, slug: str) -> Path:
    return slugs_dir(platform, app_id) / f"{slug}.tar"


def _slug_of(tree: Path, plan: detect.Plan) -> bytes:
    """The tar of the app's files as ``COPY`` put them (under ``/app``, a static site's under
    ``/var/www/html``; fixed owners and times: the same tree gives the same bytes)."""
    where = "var/www/html" if plan.app_type == "static" else "app"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(where)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        source.add_tree(tar, tree, where, SKIP)
    return buf.getvalue()


def _write_slug(platform: Platform, app_id: str, tree: Path, plan: detect.Plan) -> tuple[str, int]:
    """The app's files (``_slug_of``), kept by their SHA-256; (the digest, the size)."""
    data = _slug_of(tree, plan)
    digest = hashlib.sha256(data).hexdigest()
    _keep_slug(platform, app_id, digest, data)
    return digest, len(data)


def _keep_slug(platform: Platform, app_id: str, digest: str, data: bytes) -> None:
    path = slug_path(platform, app_id, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_bytes(data)
        tmp.rename(path)


def work_dir(platform: Platform) -> Path:
    """Where builds and restores unpack sources (under the data dir, private)."""
    path = platform.settings.data_dir / "apps" / "tmp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _slug_gone(release: Release, why: str) -> InvalidInput:
    return InvalidInput(f"release v{release.version} cannot start: its files (slug {(release.slug or '')[:12]}) are "
                        f"gone from the server and {why}; push again to rebuild it")


async def restore_slug(platform: Platform, app: App, release: Release) -> None:
    """Make sure the files of ``release`` are on disk: when its slug file is gone (removed by hand, a
    lost disk), it is made again from the app's Git repository at the release's commit, and kept only
    if it has the same digest (the same files). Otherwise ``InvalidInput`` says why (nothing changes)."""
    if not release.slug or slug_path(platform, app.id, release.slug).exists():
        return
    s = platform.settings
    rev = release.git_rev or ""
    work = Path(tempfile.mkdtemp(prefix="slug-", dir=work_dir(platform)))
    data: bytes | None = None
    try:
        if await git.archive_commit(platform, app.id, rev, work / "source.tar") is not None:
            tree = work / "src"
            await asyncio.to_thread(source.unpack, work / "source.tar", tree, s.apps_max_file_mb * 1024 * 1024,
                                    s.apps_max_source_mb * 1024 * 1024)
            plan = await asyncio.to_thread(detect.detect, tree, app.type_override)
            data = await asyncio.to_thread(_slug_of, tree, plan)
    except (CumuloError, RuntimeError, OSError) as exc:
        raise _slug_gone(release, f"could not be made again from commit {rev[:12]} "
                                  f"({exc.message if isinstance(exc, CumuloError) else exc})") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if data is None:
        raise _slug_gone(release, f"its commit {rev[:12] or '(none)'} is not in the app's Git repository (an "
                                  "upload or a git_url deploy)")
    if hashlib.sha256(data).hexdigest() != release.slug:
        raise _slug_gone(release, f"commit {rev[:12]} now gives other files (the app's type was changed)")
    await asyncio.to_thread(_keep_slug, platform, app.id, release.slug, data)
    logger.warning("app %s: the files of release v%d were missing; made again from commit %s", app.name,
                   release.version, rev[:12])


def read_slug(platform: Platform, app_id: str, slug: str) -> bytes:
    path = slug_path(platform, app_id, slug)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput("the files of this release are gone from the server: push again to rebuild it") from None


def remove_slugs(platform: Platform, app_id: str, slugs: set[str] | None = None) -> None:
    """Forget ``slugs`` of the app (None: all of them)."""
    if slugs is None:
        shutil.rmtree(slugs_dir(platform, app_id), ignore_errors=True)
        return
    for slug in slugs:
        slug_path(platform, app_id, slug).unlink(missing_ok=True)


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
                            log: LogFn, git_rev: str) -> ImageInfo:
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
        return await driver.build_image(ctx, tag, {}, on_log=log, memory_mb=platform.settings.image_build_memory_mb,
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
    slug: str | None = None
    slug_size = 0
    if plan.app_type == "docker":
        info = await _dockerfile_build(platform, app, tree, tag, labels, log, git_rev)
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
        prefix = _prefix(base_id, plan, str(deps_dir) if deps_dir else None, labels | {LABEL_DEPS: app.id})
        runtime_image = await _runtime_image(platform, app, plan, prefix, deps_dir, log)
        slug, slug_size = await asyncio.to_thread(_write_slug, platform, app.id, tree, plan)
        await driver.tag_image(runtime_image.id, tag)  # the release's image: kept while a release uses it
        info = ImageInfo(id=runtime_image.id, tags=[tag], size_bytes=runtime_image.size_bytes + slug_size,
                         created=runtime_image.created, labels=runtime_image.labels)
    if info.size_bytes > s.apps_max_image_mb * 1024 * 1024:
        with contextlib.suppress(CumuloError):
            await driver.remove_image(tag)
        raise InvalidInput(f"the image is {info.size_bytes // (1024 * 1024)} MB: at most {s.apps_max_image_mb} MB "
                           "(CUMULO_APPS_MAX_IMAGE_MB)")
    if slug is None:
        log(f"-----> Image built ({info.size_bytes // (1024 * 1024)} MB)\n")
    else:
        log(f"-----> Release ready: the runtime image ({(info.size_bytes - slug_size) // (1024 * 1024)} MB) and "
            f"the app's files ({max(1, slug_size // 1024)} KB, added to each container: no image build)\n")
    return Built(tag, plan, slug)

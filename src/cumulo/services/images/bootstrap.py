"""``cumulo images bootstrap``: build Cumulo's catalogue images locally, cached.

Each image carries ``cumulo.recipe=<digest of its recipe and its parent's>``; an image whose tag
exists with the expected digest is kept as it is, so a second run takes well under a second.
The two roots (busybox, debian) are built concurrently, then every Dockerfile image in parallel.
With ``registry_pull`` a registry image is tried first for the roots.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cumulo.core.errors import CumuloError
from cumulo.drivers.compute.base import ComputeDriver
from cumulo.services.images import rootfs
from cumulo.services.images.recipes import BASE, EPOCH, RECIPES, Recipe

log = logging.getLogger("cumulo.images")
LABEL_CATALOG = "cumulo.catalog"
LABEL_RECIPE = "cumulo.recipe"
Report = Callable[[str, str], None]  # (image, line)


@dataclass
class Result:
    image: str
    action: str  # cached | built | pulled | failed | on first launch (an on-demand image not built yet)
    seconds: float
    error: str | None = None


def context_tar(dockerfile: str, files: dict[str, str | bytes] | None = None) -> bytes:
    """A build context: ``Dockerfile`` plus files, with fixed timestamps (stable build cache)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in {"Dockerfile": dockerfile, **(files or {})}.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _digests() -> dict[str, str]:
    base = next(r for r in RECIPES if r.name == BASE).digest()
    return {r.name: r.digest(parent=base if r.kind == "dockerfile" else "") for r in RECIPES}


async def _cached(driver: ComputeDriver, recipe: Recipe, digest: str, registry_pull: bool) -> bool:
    info = await driver.image(recipe.tag)
    if info is None:
        return False
    return info.labels.get(LABEL_RECIPE) == digest or (registry_pull and recipe.kind == "rootfs")


async def _root(driver: ComputeDriver, recipe: Recipe, digest: str, workdir: Path, registry_pull: bool,
                report: Report) -> str:
    if registry_pull and recipe.registry:
        try:
            info = await driver.pull_image(recipe.registry)
            await driver.tag_image(info.id, recipe.tag)
            return "pulled"
        except CumuloError as exc:
            report(recipe.name, f"registry pull failed ({exc.message}); building locally")
    await asyncio.to_thread(rootfs.ensure_tools, lambda line: report(recipe.name, line))
    tar_path, archive = workdir / f"{recipe.name.split('/')[-1]}.tar", workdir / f"{recipe.name.split('/')[-1]}.img"
    labels = {LABEL_CATALOG: "1", LABEL_RECIPE: digest}
    if recipe.name == BASE:
        report(recipe.name, "mmdebstrap: installing a minimal Debian root from the mirror")
        await asyncio.to_thread(rootfs.debian_rootfs, tar_path)
        cmd, env = ["/bin/bash"], ["DEBIAN_FRONTEND=noninteractive"]
    else:
        report(recipe.name, "assembling busybox-static root")
        await asyncio.to_thread(rootfs.busybox_rootfs, tar_path)
        cmd, env = ["sh"], []
    await asyncio.to_thread(rootfs.image_archive, tar_path, archive, recipe.tag, cmd, labels, env)
    report(recipe.name, "loading into Docker")
    await driver.load_image(str(archive))
    return "built"


async def _child(driver: ComputeDriver, recipe: Recipe, digest: str, report: Report) -> str:
    labels = {LABEL_CATALOG: "1", LABEL_RECIPE: digest}
    await driver.build_image(context_tar(recipe.dockerfile, dict(recipe.files)), recipe.tag, labels,
                             on_log=lambda line: report(recipe.name, line.rstrip()))
    return "built"


async def _timed(name: str, work: Callable[[], Awaitable[str]]) -> Result:
    started = time.monotonic()
    try:
        action = await work()
        return Result(name, action, round(time.monotonic() - started, 2))
    except CumuloError as exc:
        return Result(name, "failed", round(time.monotonic() - started, 2), exc.message)


async def bootstrap(driver: ComputeDriver, *, registry_pull: bool = False, only: list[str] | None = None,
                    report: Report | None = None, every: bool = False) -> list[Result]:
    """Build every catalogue image that is missing or out of date; returns what happened to each. An
    ``on_demand`` recipe (``cumulo/desktop``) is built only when named in ``only`` or with ``every``;
    otherwise it is reported as cached, or "on first launch" (its first launch builds it)."""
    say = report or (lambda image, line: log.debug("%s: %s", image, line))
    digests = _digests()
    wanted = [r for r in RECIPES if not only or r.name in only or (r.name == BASE and any(
        x != "cumulo/busybox" for x in only))]
    cached = dict(zip([r.name for r in wanted], await asyncio.gather(
        *(_cached(driver, r, digests[r.name], registry_pull) for r in wanted))))
    results = [Result(r.name, "cached", 0.0) for r in wanted if cached[r.name]]
    later = [r for r in wanted if r.on_demand and not cached[r.name] and not every and not (only and r.name in only)]
    results += [Result(r.name, "on first launch", 0.0) for r in later]
    todo = [r for r in wanted if not cached[r.name] and r not in later]
    order = [r.name for r in RECIPES]
    if not todo:
        return sorted(results, key=lambda r: order.index(r.image))
    with tempfile.TemporaryDirectory(prefix="cumulo-bootstrap-") as tmp:
        roots = [r for r in todo if r.kind == "rootfs"]
        root_results = await asyncio.gather(*(_timed(r.name, partial(
            _root, driver, r, digests[r.name], Path(tmp), registry_pull, say)) for r in roots))
    results += root_results
    base_failed = any(r.image == BASE and r.action == "failed" for r in root_results)
    children = [r for r in todo if r.kind == "dockerfile"]
    if base_failed:
        results += [Result(r.name, "failed", 0.0, f"{BASE} could not be built") for r in children]
    else:
        results += await asyncio.gather(*(_timed(r.name, partial(_child, driver, r, digests[r.name], say))
                                          for r in children))
    return sorted(results, key=lambda r: order.index(r.image))

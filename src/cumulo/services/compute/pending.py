"""Instances launched from an on-demand catalogue image that is not built yet (``cumulo/desktop``:
~810 MB, about 5 minutes, so ``cumulo images bootstrap`` leaves it to its first use).

The launch answers at once, like any other, with the instance ``PENDING`` and a ``status_reason``
saying the image is being built and how long that takes; the build runs in the background, one per
image however many instances wait for it, and every build step is an ``instance.image_building``
event of each waiting instance (its ``status_reason`` follows: "step 2/6 ..."). Once built, each
waiting instance goes on as a launch does (``STARTING``, then ``RUNNING``, ``instance.launched``); if
the build fails they are ``ERROR`` with the reason (``instance.launch_failed``). Stopped meanwhile,
an instance simply stays stopped; terminated, it is forgotten. A restart of Cumulo mid-build is
healed by the reconciler (``resume``), which starts the build again for instances still waiting.

Several API processes on one database build an image once: the build runs under the lease
``catalogue-build:<image>`` (``cumulo.db.locks``, renewed while it runs). A process that finds it held
builds nothing: the holder goes on with every waiting instance, whichever process launched it, and
if the holder dies its lease expires and the next reconciler pass of another process builds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from sqlalchemy import select

from cumulo.core.errors import CumuloError
from cumulo.core.events import Event
from cumulo.db import locks
from cumulo.platform import Platform
from cumulo.services.compute.convergence import IMAGE_BUILD, converge
from cumulo.services.compute.models import Instance
from cumulo.services.events import service as events
from cumulo.services.images import service as images
from cumulo.services.images.recipes import Recipe, by_name

log = logging.getLogger("cumulo.compute")
WAITING = IMAGE_BUILD  # Instance.meta key: the catalogue image the instance waits for
STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$", re.MULTILINE)
PROGRESS_EVERY = 5.0  # seconds: the most often a waiting instance's status_reason is rewritten
LEASE_SECONDS = 60.0  # the build's lease, renewed every third of it: a dead builder's expires this soon


def reason(recipe: Recipe, progress: str | None = None) -> str:
    took = recipe.first_build or "a few minutes"
    return (f"building the catalogue image {recipe.name} (its first use: {took})"
            + (f": {progress}" if progress else ""))


def waiting_for(inst: Instance) -> str | None:
    return (inst.meta or {}).get(WAITING)


def _tasks(platform: Platform) -> dict[str, asyncio.Task[None]]:
    return platform.get_or_create("compute.image_builds", dict)


def ensure_build(platform: Platform, recipe: Recipe) -> None:
    """The background build of ``recipe`` for the instances waiting for it, unless one runs already."""
    tasks = _tasks(platform)
    if recipe.name in tasks and not tasks[recipe.name].done():
        return
    tasks[recipe.name] = asyncio.get_running_loop().create_task(_build_then_launch(platform, recipe),
                                                                name=f"catalogue-build-{recipe.name}")


async def _waiting(platform: Platform, name: str) -> list[Instance]:
    async with platform.db.session() as session:
        rows = (await session.scalars(select(Instance).where(Instance.status.in_(("PENDING", "STOPPED"))))).all()
        return [i for i in rows if waiting_for(i) == name]


async def _progress(platform: Platform, recipe: Recipe, step: str) -> None:
    text = reason(recipe, step)
    async with platform.db.session() as session:
        rows = (await session.scalars(select(Instance).where(Instance.status == "PENDING"))).all()
        for inst in rows:
            if waiting_for(inst) == recipe.name:
                inst.status_reason = text
                events.record(session, user_id=inst.user_id, action="instance.image_building",
                              resource_type="instance", resource_id=inst.id, name=inst.name, image=recipe.name,
                              progress=step)
        await session.commit()


async def _build_then_launch(platform: Platform, recipe: Recipe) -> None:
    lease, holder = f"catalogue-build:{recipe.name}", locks.holder_id()
    if not await locks.take_lease(platform.db, lease, holder, LEASE_SECONDS):
        return  # another process builds it and goes on with every waiting instance, ours too
    async with locks.kept(platform.db, lease, holder, LEASE_SECONDS):
        await _build_and_go_on(platform, recipe)


async def _build_and_go_on(platform: Platform, recipe: Recipe) -> None:
    loop = asyncio.get_running_loop()
    writes: set[asyncio.Task[None]] = set()
    last = [0.0]
    in_order = asyncio.Lock()  # one write at a time, in the order of the steps (its waiters queue FIFO)

    async def write_progress(text: str) -> None:
        async with in_order:
            await _progress(platform, recipe, text)

    def note(line: str) -> None:  # on the loop: a build step (else at most every few seconds) is
        step = STEP.search(line)  # the waiting instances' status_reason and an event of each
        if step is None and time.monotonic() - last[0] < PROGRESS_EVERY:
            return
        text = f"step {step.group(1)}/{step.group(2)} {step.group(3).strip()[:80]}" if step else line.strip()[:120]
        if not text:
            return
        last[0] = time.monotonic()
        write = loop.create_task(write_progress(text))
        writes.add(write)
        write.add_done_callback(writes.discard)

    def report(line: str) -> None:  # called from the build's thread
        loop.call_soon_threadsafe(note, line)

    error: str | None = None
    try:
        await images.build_catalogue(platform, recipe, report)
    except CumuloError as exc:
        error = exc.message
    except Exception as exc:  # an unexpected failure must not leave the instances PENDING for ever
        log.exception("building %s for waiting instances failed", recipe.name)
        error = f"the catalogue image {recipe.name} could not be built: {exc}"
    if writes:
        await asyncio.gather(*writes, return_exceptions=True)
    for inst in await _waiting(platform, recipe.name):
        await _go_on(platform, inst.id, recipe, error)


async def _go_on(platform: Platform, instance_id: str, recipe: Recipe, error: str | None) -> None:
    """The image is built (or failed): the instance goes on as a launch does, or fails."""
    async with platform.db.session() as session:
        inst = await session.get(Instance, instance_id)
        if inst is None or waiting_for(inst) != recipe.name:
            return
        inst.meta = {k: v for k, v in (inst.meta or {}).items() if k != WAITING}
        if error is not None:
            inst.status, inst.status_reason = "ERROR", f"launch failed: {error}"
            action, data = "instance.launch_failed", {"reason": error}
        else:
            if inst.status == "PENDING":
                inst.status, inst.status_reason = "STARTING", None
            action, data = "instance.image_built", {"image": recipe.name}
        events.record(session, user_id=inst.user_id, action=action, resource_type="instance", resource_id=inst.id,
                      name=inst.name, **data)
        await session.commit()
        platform.bus.publish(Event(action, resource_id=inst.id, user_id=inst.user_id, data=data))
    if error is None:
        try:
            await converge(platform, instance_id)
        except CumuloError as exc:  # the reconciler tries again
            log.warning("instance %s not converged after its image was built: %s", instance_id, exc.message)


async def resume(platform: Platform) -> None:
    """The reconciler's part: a build again for instances still waiting (e.g. Cumulo restarted)."""
    recipes = by_name()
    async with platform.db.session() as session:
        rows = (await session.scalars(select(Instance).where(Instance.status.in_(("PENDING", "STOPPED"))))).all()
        names = {n for n in (waiting_for(i) for i in rows) if n}
    for name in sorted(names):
        if name in recipes:
            ensure_build(platform, recipes[name])

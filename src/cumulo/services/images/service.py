"""Image use cases: the catalogue plus the caller's own images; builds with a streamed log.

The compute service asks ``image_ref_for`` which engine image a launch may use: a catalogue
image (``cumulo/<name>[:tag]``) or one of the caller's READY images (id, ``name`` or ``name:tag``, or
the full engine id); builds resolve every image their Dockerfile names by the same rules
(``references``) and get a rewritten Dockerfile (``dockerfile``). Nothing else on the Docker host is
reachable through the API. Builds run with no network (``CUMULO_IMAGE_BUILD_NETWORK``), within the
``images`` and ``image_builds`` quotas.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware
from cumulo.core.errors import Conflict, CumuloError, Forbidden, NotFound, Unavailable, not_found
from cumulo.core.principal import Principal
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_KIND, LABEL_OWNER, LABEL_RESOURCE
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.images import dockerfile, references
from cumulo.services.images.bootstrap import LABEL_CATALOG, bootstrap, context_tar
from cumulo.services.images.models import Image
from cumulo.services.images.recipes import Recipe, by_name
from cumulo.services.images.schemas import ImageBuild, ImageOut
from cumulo.services.quotas import service as quotas

CATALOG_PREFIX = references.CATALOG_PREFIX
MAX_LOG_CHARS = 64 * 1024


def _mb(size: int) -> float:
    return round(size / (1024 * 1024), 1)


def image_out(img: Image) -> ImageOut:
    return ImageOut(id=img.id, name=img.name, tag=img.tag, reference=f"{img.name}:{img.tag}", status=img.status,
                    owner="you", size_mb=_mb(img.size_bytes), error=img.error, created_at=aware(img.created_at))


async def catalogue(platform: Platform) -> list[ImageOut]:
    recipes = by_name()
    found: list[ImageOut] = []
    for info in await compute_driver(platform).images({LABEL_CATALOG: "1"}):
        for tag in info.tags:
            repo, _, version = tag.rpartition(":")
            if repo.startswith(CATALOG_PREFIX):
                recipe = recipes.get(repo)
                found.append(ImageOut(id=tag, name=repo, tag=version, reference=repo if version == "latest" else tag,
                                      status="READY", owner="cumulo", size_mb=_mb(info.size_bytes),
                                      description=recipe.description if recipe else None))
    built = {i.id for i in found}
    found += [ImageOut(id=r.tag, name=r.name, tag="latest", reference=r.name, status="NOT_BUILT", owner="cumulo",
                       size_mb=0.0, description=f"{r.description} (built at the first launch of an instance from "
                                                f"it, {r.first_build or 'a few minutes'})")
              for r in recipes.values() if r.on_demand and r.tag not in built]
    return sorted(found, key=lambda i: (i.name, i.tag))


async def list_images(platform: Platform, session: AsyncSession, user: Principal) -> list[ImageOut]:
    own = (await session.scalars(select(Image).where(Image.user_id == user.user_id)
                                 .order_by(Image.name, Image.tag))).all()
    return [*await catalogue(platform), *(image_out(i) for i in own)]


async def resolve(session: AsyncSession, user: Principal, ref: str) -> Image:
    name, _, tag = ref.partition(":")
    rows = (await session.scalars(select(Image).where(Image.user_id == user.user_id, or_(
        Image.id == ref, (Image.name == name) & (Image.tag == (tag or "latest")))))).all()
    if not rows:
        raise not_found("image", ref)
    return next((r for r in rows if r.id == ref), rows[0])


async def get_image(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> ImageOut:
    if ref.startswith(CATALOG_PREFIX):
        wanted = ref if ":" in ref else f"{ref}:latest"
        for item in await catalogue(platform):
            if item.id == wanted:
                return item
        raise not_found("image", ref)
    return image_out(await resolve(session, user, ref))


async def image_ref_for(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> str:
    """The engine reference a launch of ``ref`` uses: 404 when ``ref`` is nothing the caller may use
    (another user's image, an id prefix, a registry name), 400 when the image is not READY."""
    return (await launch_ref(platform, session, user, ref, build=False))[0]


async def launch_ref(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                     build: bool = True) -> tuple[str, Recipe | None]:
    """``image_ref_for``, and with ``build`` an on-demand catalogue image (``cumulo/desktop``) that is
    not built yet: its tag and its recipe, for the launch to wait on ``build_catalogue``."""
    usable = await references.usable(platform, session, user.user_id, catalogue=references.needs_catalogue(ref))
    try:
        return usable.find(ref).launch_ref, None
    except NotFound:
        recipe = by_name().get(ref.removesuffix(":latest"))
        if not build or recipe is None or not recipe.on_demand:
            raise
        return recipe.tag, recipe


def recipe(name: str) -> Recipe:
    """The catalogue recipe of ``name`` (``cumulo/desktop``)."""
    return by_name()[name]


async def build_catalogue(platform: Platform, recipe: Recipe, report: Callable[[str], None]) -> None:
    """Build an on-demand catalogue image (and ``cumulo/debian`` under it when missing), as
    ``cumulo images bootstrap --only`` does; ``report`` gets its log lines. Raises when it fails."""
    results = await bootstrap(compute_driver(platform), registry_pull=platform.settings.registry_pull,
                              only=[recipe.name], report=lambda _image, line: report(line))
    failed = [r for r in results if r.action == "failed"]
    if failed:
        raise Unavailable(f"the catalogue image {recipe.name} could not be built: "
                          + "; ".join(f"{r.image}: {r.error}" for r in failed))


async def plan_build(platform: Platform, session: AsyncSession, user: Principal, text: str) -> dockerfile.Plan:
    """The Dockerfile the engine may build for ``text``: every image it names resolved to a full id
    the caller may use, remote ADD and BuildKit-only features refused (400/404, before any write)."""
    usable = await references.usable(platform, session, user.user_id)
    plan = dockerfile.rewrite(text, usable.for_build, usable.own_name)
    driver = compute_driver(platform)
    for engine_id in sorted(plan.images):
        info = await driver.image(engine_id)
        if info is None:
            raise not_found("image", engine_id)
        if engine_id in plan.bases:
            dockerfile.check_triggers(engine_id, info.onbuild, usable.allowed_id)
    plan.keep = sorted(i for i in plan.images if i not in usable.catalogue.values())
    return plan


async def start_build(platform: Platform, session: AsyncSession, user: Principal,
                      body: ImageBuild) -> tuple[Image, dockerfile.Plan]:
    """Check the Dockerfile and the quotas, then record the image (BUILDING); returns it with what
    to build."""
    plan = await plan_build(platform, session, user, body.dockerfile)
    await quotas.check_many(session, platform, user.user_id, {"images": 1, "image_builds": 1})
    if await session.scalar(select(Image.id).where(Image.user_id == user.user_id, Image.name == body.name,
                                                   Image.tag == body.tag)):
        raise Conflict(f"you already have an image {body.name}:{body.tag}; delete it first or use another tag")
    img = Image(user_id=user.user_id, name=body.name, tag=body.tag, status="BUILDING", size_bytes=0, log="",
                docker_ref=f"cumulo-user/{user.user_id}/{body.name}:{body.tag}")
    session.add(img)
    await session.flush()
    events.record(session, user_id=user.user_id, action="image.build_started", resource_type="image",
                  resource_id=img.id, name=body.name, tag=body.tag)
    await session.commit()
    return img, plan


async def run_build(platform: Platform, img: Image, plan: dockerfile.Plan,
                    files: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    """Run the build as a task of its own (it finishes even if the client goes away) and yield its log
    lines as they come, then ``{"image": ...}`` or ``{"error": ...}``. The caller's own images it
    uses get a tag of the build's while it runs: deleting one meanwhile only drops the user's tag, so
    the engine never misses an id (it would look it up in a registry)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    labels = {LABEL_INSTALLATION: platform.installation_id, LABEL_OWNER: img.user_id, LABEL_RESOURCE: img.id,
              LABEL_KIND: "image"}

    async def build() -> dict[str, Any]:
        log: list[str] = []

        def on_log(line: str) -> None:
            log.append(line)
            loop.call_soon_threadsafe(lines.put_nowait, line)

        driver = compute_driver(platform)
        held: list[str] = []
        try:
            for ref, engine_id in plan.resolved.items():
                on_log(f"{ref} is {engine_id}\n")
            for n, engine_id in enumerate(plan.keep):
                await driver.tag_image(engine_id, f"cumulo-build/{img.id}:{n}")
                held.append(f"cumulo-build/{img.id}:{n}")
            info = await driver.build_image(
                context_tar(plan.dockerfile, dict(files)), img.docker_ref, labels, on_log=on_log,
                memory_mb=platform.settings.image_build_memory_mb, network=platform.settings.image_build_network)
            values = {"status": "READY", "docker_id": info.id, "size_bytes": info.size_bytes, "error": None}
        except CumuloError as exc:
            values = {"status": "FAILED", "error": exc.message}
        finally:
            for tag in held:
                with contextlib.suppress(CumuloError):
                    await driver.remove_image(tag)
            loop.call_soon_threadsafe(lines.put_nowait, None)
        async with platform.db.session() as session:
            await session.execute(update(Image).where(Image.id == img.id).values(
                log="".join(log)[-MAX_LOG_CHARS:], **values))
            action = "image.built" if values["status"] == "READY" else "image.build_failed"
            events.record(session, user_id=img.user_id, action=action, resource_type="image", resource_id=img.id,
                          name=img.name, tag=img.tag, error=values.get("error"))
            await session.commit()
            fresh = await session.get(Image, img.id)
            assert fresh is not None
            return {"image": image_out(fresh).model_dump(mode="json")} if values["status"] == "READY" else {
                "error": {"code": "BUILD_FAILED", "message": values["error"]}}

    task = asyncio.create_task(build())
    while (line := await lines.get()) is not None:
        yield {"log": line}
    yield await task


async def build_log(session: AsyncSession, user: Principal, ref: str) -> str:
    return (await resolve(session, user, ref)).log


async def delete_image(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    if ref.startswith(CATALOG_PREFIX):
        raise Forbidden("catalogue images are shared by every user and cannot be deleted through the API")
    img = await resolve(session, user, ref)
    if img.status == "BUILDING":
        raise Conflict(f"image {img.name}:{img.tag} is still building")
    users = await ports.users_of("image", session, user.user_id, img.docker_ref)  # compute's instances, ...
    if users:
        raise Conflict(f"image {img.name}:{img.tag} is used by {', '.join(users)}")
    if img.status == "READY":
        await compute_driver(platform).remove_image(img.docker_ref)
    await session.delete(img)
    events.record(session, user_id=user.user_id, action="image.deleted", resource_type="image", resource_id=img.id,
                  name=img.name, tag=img.tag)
    await session.commit()


async def fail_interrupted(platform: Platform) -> None:
    """Builds cut short by a restart will never finish: say so."""
    async with platform.db.session() as session:
        await session.execute(update(Image).where(Image.status == "BUILDING").values(
            status="FAILED", error="the build was interrupted by a server restart"))
        await session.commit()

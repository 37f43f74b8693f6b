"""Which images a user may name, and the engine image each name stands for.

Two sources only: the catalogue (``cumulo/<name>[:tag]``, images labelled ``cumulo.catalog``) and the
caller's own images, by ``name[:tag]``, Cumulo id or full engine id (``sha256:<64 hex>``). Nothing
else on the Docker host: no id prefix, no other user's ``cumulo-user/...`` tag, no registry name.
Builds, instance launches and anything else that takes an image reference go through ``Usable``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import CumuloError, InvalidInput, NotFound, not_found
from cumulo.drivers.compute import compute_driver
from cumulo.platform import Platform
from cumulo.services.images.bootstrap import LABEL_CATALOG
from cumulo.services.images.models import Image

CATALOG_PREFIX = "cumulo/"
ENGINE_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")
HINT = ("name a catalogue image (cumulo/<name>[:tag]) or one of your images by name[:tag], id or full "
        "sha256 id; GET /images lists them")


@dataclass(frozen=True)
class Found:
    engine_id: str  # full id, sha256:...
    launch_ref: str  # what a container is created from: the catalogue tag or the user's own tag
    image: Image | None  # the caller's own image; None for the catalogue


@dataclass
class Usable:
    catalogue: dict[str, str]  # "cumulo/busybox:latest" -> engine id
    own: list[Image]

    def own_name(self, name: str) -> bool:
        return any(i.name == name for i in self.own)

    def allowed_id(self, engine_id: str) -> bool:
        return engine_id in self.catalogue.values() or any(i.docker_id == engine_id for i in self.own)

    def find(self, ref: str) -> Found:
        """What ``ref`` names; 404 when it is nothing the caller may use, 400 when the image is not READY."""
        if ref.startswith(CATALOG_PREFIX):
            tag = ref if ":" in ref[len(CATALOG_PREFIX):] else f"{ref}:latest"
            if tag in self.catalogue:
                return Found(self.catalogue[tag], tag, None)
            raise self.missing(ref)
        full = ENGINE_ID.match(ref)
        if full:
            engine_id = f"sha256:{full.group(1)}"
            if engine_id in self.catalogue.values():
                return Found(engine_id, engine_id, None)
            mine = [i for i in self.own if i.docker_id == engine_id]
        else:
            name, _, tag = ref.partition(":")
            mine = [i for i in self.own if i.id == ref] or [i for i in self.own
                                                             if i.name == name and i.tag == (tag or "latest")]
        if not mine:
            raise self.missing(ref)
        img = mine[0]
        if img.status != "READY" or not img.docker_id:
            raise InvalidInput(f"image '{ref}' is {img.status}: only READY images can be used")
        return Found(img.docker_id, img.docker_ref, img)

    @staticmethod
    def missing(ref: str) -> NotFound:
        return NotFound(f"{not_found('image', ref[:200]).message}: {HINT}")

    def for_build(self, ref: str, line: int) -> str:
        """``dockerfile.Resolver``: the full id a build may use for ``ref`` (the error names the line)."""
        try:
            return self.find(ref).engine_id
        except CumuloError as exc:
            raise type(exc)(f"Dockerfile line {line}: {exc.message}") from None


async def usable(platform: Platform, session: AsyncSession, user_id: str, catalogue: bool = True) -> Usable:
    """The caller's images and (unless ``catalogue`` is False) the catalogue as the engine has it now."""
    own = list((await session.scalars(select(Image).where(Image.user_id == user_id))).all())
    tags: dict[str, str] = {}
    if catalogue:
        for info in await compute_driver(platform).images({LABEL_CATALOG: "1"}):
            for tag in info.tags:
                if tag.startswith(CATALOG_PREFIX):
                    tags[tag] = info.id
    return Usable(tags, own)


def needs_catalogue(ref: str) -> bool:
    return ref.startswith(CATALOG_PREFIX) or ENGINE_ID.match(ref) is not None

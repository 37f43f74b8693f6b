"""Runtimes actually available: the local ``cumulo/python`` and ``cumulo/node`` images, named by
the versions they really contain (probed once per image id)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from cumulo.core.errors import InvalidInput
from cumulo.drivers.functions.docker import AGENT_MOUNT, FunctionDocker


@dataclass(frozen=True)
class Family:
    kind: str
    setting: str
    probe: tuple[str, ...]
    prefix: str
    command: tuple[str, ...]
    aliases: tuple[str, ...]


FAMILIES = (
    Family("python", "function_image_python", ("python3", "-c", "import platform; print(platform.python_version())"),
           "python", ("python3", "-u", f"{AGENT_MOUNT}/agent.py"), ("python", "python3")),
    Family("node", "function_image_node", ("node", "--version"), "nodejs",
           ("node", f"{AGENT_MOUNT}/agent.js"), ("node", "nodejs")),
)


@dataclass(frozen=True)
class Runtime:
    name: str  # e.g. python3.11, nodejs18
    kind: str
    version: str
    image: str
    image_id: str
    command: tuple[str, ...]

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "language": self.kind, "version": self.version, "image": self.image}


def _name(family: Family, version: str) -> str:
    parts = version.lstrip("v").split(".")
    return f"python{parts[0]}.{parts[1]}" if family.kind == "python" else f"nodejs{parts[0]}"


async def available(platform: Any, docker: FunctionDocker) -> list[Runtime]:
    cache: dict[str, Runtime] = platform.get_or_create("functions.runtimes", dict)
    labels = {"cumulo.installation": platform.installation_id, "cumulo.kind": "function-probe"}

    async def one(family: Family) -> Runtime | None:
        image = getattr(platform.settings, family.setting)
        attrs = await docker.image(image)
        if attrs is None:
            return None
        if attrs["Id"] not in cache:
            out = await docker.probe(image, list(family.probe), labels)
            match = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", out)
            if not match:
                return None
            version = match.group(1)
            cache[attrs["Id"]] = Runtime(_name(family, version), family.kind, version, image, attrs["Id"],
                                         family.command)
        return cache[attrs["Id"]]

    found = await asyncio.gather(*(one(f) for f in FAMILIES), return_exceptions=True)
    return [r for r in found if isinstance(r, Runtime)]


async def resolve(platform: Any, docker: FunctionDocker, requested: str) -> Runtime:
    """The runtime named ``requested`` (exact name, or a family alias such as ``python``/``nodejs``)."""
    runtimes = await available(platform, docker)
    wanted = requested.strip().lower()
    for runtime in runtimes:
        family = next(f for f in FAMILIES if f.kind == runtime.kind)
        if wanted == runtime.name or wanted in family.aliases:
            return runtime
    names = [r.name for r in runtimes]
    hint = f"available: {', '.join(names)}" if names else "no runtime image is built: run `cumulo images bootstrap`"
    raise InvalidInput(f"unknown runtime '{requested}'; {hint}", details={"available": names})

"""Ports: what one service asks of another that sits above it (the reverse edges of the service graph).

Services import the services below them directly (``compute`` imports ``volumes.service``). A lower
service that needs something of a higher one (``volumes`` asking whether an instance is the caller's,
``images`` asking whether an image is in use) asks a port instead, and the higher service fills the
port from its ``services/<name>/hooks.py``. Every service's ``hooks.py`` is imported once per
process, before a port is first read (``discover``), so a process that runs no reconcilers
(``cumulo api``) knows every entry too. A hook module registers at import::

    # services/compute/hooks.py
    from cumulo import ports

    async def resolve_instance(session, user_id, ref) -> str: ...   # the id; NotFound (404) otherwise
    async def instances_using_image(session, user_id, image_ref) -> list[str]: ...

    ports.resolvers.add("instance", resolve_instance)
    ports.users.add("image", "instance", instances_using_image)

The ports:
- ``resolve(kind, session, user_id, ref) -> id``: the id of the caller's resource ``ref`` (id or name),
  with the 404 rules of ``cumulo.db.lookup.owned``; ``Unavailable`` (503) when no service owns ``kind``.
- ``users_of(kind, session, user_id, key) -> ["instance web", ...]``: who uses the caller's resource
  (delete guards); every service that can use a ``kind`` adds its own entry. What ``key`` is belongs
  to ``kind``'s owner (for ``image``: the image's engine reference, ``Image.docker_ref``).
- ``reconfigure(kind, session, id, reason) -> bool``: tell the owner that what its resource is built
  from changed (volumes attached to an instance), in the caller's transaction.
- ``usage``: what a service declares of its billable resources, for the billing meter (which never
  reads other services' tables): a ``Meterable`` per resource type, with ``states(session)`` (each
  resource as its row says now: active or not since when, and the spec its price depends on: billed
  per second while active) and/or ``consumed(session, start, end)`` (what each resource used in
  [start, end): function invocations and GB-seconds), and ``suspend(platform, principal)`` (stop, never
  delete, the user's running resources when their credits are used up).
- ``Registry[T]``: the generic named registry behind them, for a service's own extension points
  (the gateway's route providers use it: ``cumulo.services.gateway.providers``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import pkgutil
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Unavailable

T = TypeVar("T")
SERVICES = "cumulo.services"
_state = {"discovered": False, "discovering": False}


def discover() -> None:
    """Import every service's ``hooks.py`` once (found by folder, like ``api.py`` and ``keys.py``).
    A hook module that fails to import raises here (nothing is swallowed); the next read tries again."""
    if _state["discovered"] or _state["discovering"]:
        return  # a hook module reading a registry while the others are being imported
    _state["discovering"] = True
    try:
        package = importlib.import_module(SERVICES)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            name = f"{SERVICES}.{info.name}.hooks"
            if info.ispkg and importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        _state["discovered"] = True
    finally:
        _state["discovering"] = False


class Registry(Generic[T]):
    """Named entries added at import time (by ``hooks.py``), read after ``discover``."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> None:
        """Add (or replace) ``name``."""
        self._entries[name] = entry

    def get(self, name: str) -> T | None:
        discover()
        return self._entries.get(name)

    def names(self) -> list[str]:
        discover()
        return sorted(self._entries)

    def __iter__(self) -> Iterator[tuple[str, T]]:
        discover()
        return iter(sorted(self._entries.items()))


Resolver = Callable[[AsyncSession, str, str], Awaitable[str]]
UsersOf = Callable[[AsyncSession, str, str], Awaitable[list[str]]]
Reconfigure = Callable[[AsyncSession, str, str], Awaitable[bool]]


class Users:
    """``users_of`` entries: several per kind, one per kind of user."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, UsersOf]] = {}

    def add(self, kind: str, user_kind: str, fn: UsersOf) -> None:
        self._by_kind.setdefault(kind, {})[user_kind] = fn

    def of(self, kind: str) -> list[tuple[str, UsersOf]]:
        discover()
        return sorted(self._by_kind.get(kind, {}).items())


@dataclass(frozen=True)
class Usage:
    """One billable resource as its own row says now."""

    resource_id: str
    user_id: str
    name: str
    active: bool  # billed now: a database or cache available, a load balancer existing
    since: dt.datetime  # when the row last changed: the moment it entered the state it is in
    spec: dict[str, float] = field(default_factory=dict)  # what its price depends on: cpus, memory_mb


@dataclass(frozen=True)
class Consumed:
    """What one resource used in a window: ``quantities`` by name (``invocations``, ``gb_seconds``)."""

    resource_id: str
    user_id: str
    name: str
    quantities: dict[str, float]


@dataclass(frozen=True)
class Meterable:
    """A ``usage`` entry: the service that owns the resource type, and how to read its usage."""

    service: str
    states: Callable[[AsyncSession], Awaitable[list[Usage]]] | None = None
    consumed: Callable[[AsyncSession, dt.datetime, dt.datetime], Awaitable[list[Consumed]]] | None = None
    # (platform, principal) -> how many: stop (never delete) the user's running resources, at zero balance
    suspend: Callable[[Any, Any], Awaitable[int]] | None = None
    # every change of the resources' state is an audit event whose data carries ``usage`` ({meter, active,
    # spec, at}): the meter follows those, and ``states`` only makes the meters of rows that never had one
    evented: bool = False


resolvers: Registry[Resolver] = Registry("resolver")
users = Users()
reconfigures: Registry[Reconfigure] = Registry("reconfigure")
usage: Registry[Meterable] = Registry("usage")


async def resolve(kind: str, session: AsyncSession, user_id: str, ref: str) -> str:
    """The id of ``user_id``'s ``kind`` ``ref`` (id or name); NotFound (404) for anyone else's."""
    fn = resolvers.get(kind)
    if fn is None:
        raise Unavailable(f"no service provides {kind}s on this server")
    return await fn(session, user_id, ref)


async def users_of(kind: str, session: AsyncSession, user_id: str, key: str) -> list[str]:
    """``"<user kind> <name>"`` for everything of ``user_id`` that uses the ``kind`` ``key``, sorted."""
    found: list[str] = []
    for user_kind, fn in users.of(kind):
        found.extend(f"{user_kind} {name}" for name in await fn(session, user_id, key))
    return sorted(found)


async def reconfigure(kind: str, session: AsyncSession, resource_id: str, reason: str) -> bool:
    """Tell the owner of ``kind`` ``resource_id``, in the caller's transaction, that it is about to be
    rebuilt because of ``reason`` (e.g. ``volume attached``). True when the rebuild resets something
    the user sees (an instance's root filesystem); False when nothing is built yet."""
    fn = reconfigures.get(kind)
    if fn is None:
        raise Unavailable(f"no service provides {kind}s on this server")
    return await fn(session, resource_id, reason)

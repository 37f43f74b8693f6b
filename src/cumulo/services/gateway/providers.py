"""How other services put traffic on the data plane (load balancers, later apps and deployments).

The gateway is the only owner of the proxy configuration. Another service contributes to it by
registering a *provider* once, at import time of its ``hooks.py`` (a ``cumulo.ports.Registry``: every
service's ``hooks.py`` is imported before the registry is first read, in every process role)::

    from cumulo.services.gateway import providers

    async def lb_routes(session, platform) -> list[Route]: ...      # every route this service wants
    async def lb_pool(session, platform, user_id, ref) -> Pool | None: ...  # "loadbalancer:<ref>"

    providers.register("loadbalancer", routes=lb_routes, pool=lb_pool)

- ``routes(session, platform)`` returns the complete list of ``cumulo.drivers.proxy.config.Route``
  this provider wants served now (all users). Route ids must be unique: prefix them with the
  provider's name (``"lb-<id>"``). It runs inside the gateway's reconciler on every push, so it must
  only read (no commit) and be quick (a few queries, no per-row query).
- ``pool(session, platform, user_id, ref)`` (optional) resolves a gateway route target
  ``"<name>:<ref>"`` (e.g. ``loadbalancer:lb-123``) to the ``Pool`` it currently stands for, or
  ``None`` when ``ref`` does not exist or is not owned by ``user_id`` (the gateway answers 404 at
  create time; at push time a route whose pool is gone answers 503). Used both when a route is
  created (validation) and on every push (so the route follows the target's upstreams).

After every committed write that changes what a provider returns, call ``await changed(platform)``.
It only wakes the gateway's reconciler: pushes are coalesced (the reconciler waits for the burst
to settle, at most 2 s, and never pushes more than once every 2 s; a burst of changes is one push);
``changed(platform, urgent=True)`` skips the settling (a change a user is waiting on).
When API processes and the worker are separate processes, the wake reaches the worker through
signals on PostgreSQL (a NOTIFY; the push keeps its spacing); on SQLite, and if a signal is lost,
the worker's periodic resync (``CUMULO_GATEWAY_RESYNC_SECONDS``) picks the change up.

Hostnames: a hostname belongs to one user across routes and load balancers. Claim it in the same
session as the write, before the commit, with ``cumulo.services.gateway.service.claim_hostname(
session, user_id, hostname, kind, resource_id)`` (409 when another user holds it) and release with
``release_hostnames(session, kind, resource_id)``; ``generated_hostname(platform, name, username)``
builds ``{name}-{user}.{base domain}`` and ``public_url(platform, hostname=..., port=...)`` the
``url`` a client uses.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.drivers.proxy.config import Pool, Route
from cumulo.ports import Registry

if TYPE_CHECKING:
    from cumulo.platform import Platform

RoutesFn = Callable[[AsyncSession, "Platform"], Awaitable[list[Route]]]
PoolFn = Callable[[AsyncSession, "Platform", str, str], Awaitable[Pool | None]]

PUSH_LOOP = "gateway.push"


@dataclass(frozen=True)
class Provider:
    name: str
    routes: RoutesFn | None = None
    pool: PoolFn | None = None


_providers: Registry[Provider] = Registry("gateway provider")


def register(name: str, *, routes: RoutesFn | None = None, pool: PoolFn | None = None) -> None:
    """Add (or replace) the provider ``name``; ``name`` is also the target prefix for ``pool``."""
    if not name.isidentifier():
        raise ValueError(f"provider name must be an identifier: {name!r}")
    _providers.add(name, Provider(name, routes, pool))


def registered() -> list[Provider]:
    return [provider for _, provider in _providers]


def get(name: str) -> Provider | None:
    return _providers.get(name)


def mark_changed(platform: Platform) -> None:
    """Note a change without waking the push loop (the caller wakes it)."""
    platform.extras["gateway.dirty"] = True
    platform.extras["gateway.changed_at"] = time.monotonic()


async def changed(platform: Platform, *, urgent: bool = False) -> None:
    """Tell the gateway that the desired routes changed (after the commit). Cheap; coalesced.

    ``urgent``: someone waits on this change (an app's route switched to its new release, the
    ``git push`` is still open): it is pushed without waiting for the burst to settle, and a quarter
    of ``CUMULO_GATEWAY_PUSH_SECONDS`` after the last reload is spacing enough. Changes pending
    meanwhile go in the same push. It takes effect where the push loop runs in this process (a
    wake reaching another process is pushed as soon as the spacing allows anyway)."""
    mark_changed(platform)
    if urgent:
        platform.extras["gateway.urgent"] = True
    platform.runner.wake(PUSH_LOOP)


async def collect(session: AsyncSession, platform: Platform) -> list[Route]:
    """Every provider's routes. A provider's exception propagates: the reconciler then skips this
    push and keeps the previous config rather than dropping that provider's traffic."""
    routes: list[Route] = []
    for provider in registered():
        if provider.routes is None:
            continue
        routes.extend(await provider.routes(session, platform))
    return routes


async def resolve_pool(session: AsyncSession, platform: Platform, user_id: str, target: str) -> Pool | None:
    """``"<name>:<ref>"`` -> the provider's pool for ``user_id``; ``None`` when unknown or not owned."""
    name, _, ref = target.partition(":")
    provider = get(name)
    if provider is None or provider.pool is None or not ref:
        return None
    return await provider.pool(session, platform, user_id, ref)

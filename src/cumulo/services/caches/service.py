"""Managed cache use cases (Redis 7.0 from ``cumulo/redis``): create (answers once the server
accepts connections, with the password once), list, show, flush, stats, reboot, stop, start, delete.

The server never admits an unauthenticated client: its ACL file, on the cache's own block volume,
turns the ``default`` user off and defines the tenant's user (no command that reconfigures or stops
the server) and Cumulo's own management user (``acl``), each password stored only as its SHA-256
(``#<hex>``), so no plaintext is ever on disk, in the command line or in the environment.
``maxmemory`` is ``memory_mb`` (the container gets a quarter more for Redis's own overhead);
persistence ``aof`` (the default) is ``appendonly yes`` + ``appendfsync everysec``, ``rdb`` takes
snapshots, ``none`` keeps nothing across a restart.

Stop keeps the container and its volume (a ``none`` cache is snapshotted first, and the snapshot
removed once it is loaded again at start: a stop is not a restart); a stopped cache is not billed
and the reconciler keeps it stopped. Billing stops a user's caches at zero balance (``hooks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware
from cumulo.core.errors import Conflict, CumuloError, InvalidInput, Unavailable
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db import locks
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.services.caches import acl
from cumulo.services.caches.models import Cache
from cumulo.services.caches.schemas import CacheCreate, CacheOut, CacheStats
from cumulo.services.databases import convergence, placement
from cumulo.services.databases.containers import Spec, wait_until
from cumulo.services.databases.schemas import Endpoint
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas

KIND = "cache"
RECONCILE = "caches"
log = logging.getLogger("cumulo.caches")
VERSIONS = ("7.0",)
IMAGE, PORT, DATA = "cumulo/redis", 6379, "/data"
CREATING, AVAILABLE, STOPPED, ERROR = "creating", "available", "stopped", "error"
SNAPSHOT = "dump.rdb"  # what SAVE writes in DATA (a ``none`` cache's data across a stop)
READY_TIMEOUT = 120.0
REFUSED = ("AUTH failed", "NOAUTH", "WRONGPASS")  # what redis-cli says when its user is not let in
LEASE_TRIES = 240  # a quarter of a second apart: a minute for the reconciler's pass to finish


def container_name(cache_id: str) -> str:
    return f"cumulo-cache-{cache_id}"


async def resolve(session: AsyncSession, user: Principal | str, ref: str) -> Cache:
    return await owned(session, Cache, user if isinstance(user, str) else user.user_id, ref, "cache")


def cache_out(platform: Platform, c: Cache) -> CacheOut:
    up = c.status == AVAILABLE
    return CacheOut(id=c.id, name=c.name, version=c.version, status=c.status, memory_mb=c.memory_mb, cpus=c.cpus,
                    eviction_policy=c.eviction_policy, persistence=c.persistence, username=c.username,
                    credentials_secret=c.secret_name,
                    endpoint=Endpoint(host=c.address, port=PORT) if up and c.address else None,
                    public_endpoint=Endpoint(host=placement.public_host(platform), port=c.host_port)
                    if up and c.public and c.host_port else None,
                    vpc_id=c.vpc_id, public=c.public, error=c.error,
                    created_at=aware(c.created_at))


def command(c: Cache) -> list[str]:
    argv = ["redis-server", "--bind", "0.0.0.0", "--port", str(PORT), "--protected-mode", "no", "--dir", DATA,
            "--aclfile", f"{DATA}/users.acl", "--maxmemory", f"{c.memory_mb}mb",
            "--maxmemory-policy", c.eviction_policy]
    if c.persistence == "aof":
        return [*argv, "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
    if c.persistence == "rdb":
        return [*argv, "--appendonly", "no", "--save", "300 1 60 100"]
    return [*argv, "--appendonly", "no", "--save", ""]


def spec(platform: Platform, c: Cache) -> Spec:
    return Spec(name=container_name(c.id), image=IMAGE, command=command(c),
                labels=placement.labels(platform, KIND, c.id, c.user_id), volume=placement.disk_name(c.id),
                data_path=DATA, port=PORT, network=c.network_name, host_port=c.host_port if c.public else None,
                publish_host=placement.publish_host(platform), cpus=c.cpus,
                memory_mb=c.memory_mb + max(c.memory_mb // 4, 32), with_files=False)


async def accepting(platform: Platform, c: Cache) -> bool:
    code, out = await placement.containers(platform).run(container_name(c.id),
                                                         ["redis-cli", "-h", "127.0.0.1", "-p", str(PORT), "PING"])
    return code == 0 and "NOAUTH" in out  # answers, and only to authenticated clients


async def bring_up(platform: Platform, c: Cache) -> str | None:
    cs = placement.containers(platform)
    await placement.heal_disk(platform, KIND, c.id, c.user_id, c.disk_backend)
    c.vpc_id, c.network_name = await placement.ensure_network(platform, c.user_id, c.vpc_id, c.network_name)
    started = await cs.ensure(spec(platform, c))
    if started or not await accepting(platform, c):
        async def ready() -> bool:
            return await accepting(platform, c)
        await wait_until(ready, READY_TIMEOUT, f"cache {c.name}")
    return await cs.address(container_name(c.id), c.network_name)


async def create(platform: Platform, session: AsyncSession, user: Principal, body: CacheCreate) -> tuple[Cache, str]:
    version = body.version or VERSIONS[-1]
    if not any(version == v or v.startswith(f"{version}.") or version.startswith(f"{v}.") for v in VERSIONS):
        raise InvalidInput(f"Redis {version} is not in this installation's catalogue; available: {', '.join(VERSIONS)}")
    version = next(v for v in VERSIONS if version == v or v.startswith(f"{version}.") or version.startswith(f"{v}."))
    if body.username == "default":
        raise InvalidInput("username 'default' is Redis's unauthenticated user; choose another one")
    if await session.scalar(select(Cache.id).where(Cache.user_id == user.user_id, Cache.name == body.name)):
        raise Conflict(f"you already have a cache named '{body.name}'")
    vpc_id, network = await placement.network_for(platform, session, user, body.vpc_id)
    await quotas.check(session, platform, user.user_id, "caches")
    cache_id, password, admin = new_id(), placement.new_password(), placement.new_password()
    taken = set((await session.scalars(select(Cache.host_port).where(Cache.host_port.is_not(None)))).all())
    c = Cache(id=cache_id, user_id=user.user_id, name=body.name, version=version, memory_mb=body.memory_mb,
              cpus=body.cpus, eviction_policy=body.eviction_policy, persistence=body.persistence,
              storage_gb=max(1, -(-body.memory_mb * 2 // 1024)), status=CREATING, username=body.username,
              secret_name=f"caches/{body.name}-{cache_id[:8]}", vpc_id=vpc_id, network_name=network,
              public=body.public, host_port=placement.free_host_port(platform, taken) if body.public else None)
    acl.seal_admin(platform, c, admin)
    session.add(c)
    try:
        await flush_or_conflict(session, f"you already have a cache named '{body.name}'")
        events.record(session, user_id=user.user_id, action="cache.created", resource_type="cache", resource_id=c.id,
                      name=c.name, version=version, memory_mb=c.memory_mb, persistence=c.persistence)
        c.secret_id = await placement.store_password(platform, session, user.user_id, c.secret_name, password,
                                                     f"password of Redis user {c.username} of cache {c.name}")
    except BaseException:
        await session.rollback()
        raise
    await session.commit()
    try:
        c.disk_backend = await placement.make_disk(platform, KIND, c.id, c.user_id, c.storage_gb)
        await session.commit()
        acl.write(platform, c, acl.text(c.username, acl.digest(password), acl.digest(admin)))
        c.address = await bring_up(platform, c)
        c.status = AVAILABLE
    except (CumuloError, OSError) as exc:
        c.status, c.error = ERROR, getattr(exc, "message", None) or str(exc)
        events.record(session, user_id=user.user_id, action="cache.failed", resource_type="cache", resource_id=c.id,
                      reason=c.error)
        await session.commit()
        raise
    await session.commit()
    return c, password


async def list_caches(session: AsyncSession, user: Principal) -> list[Cache]:
    return list((await session.scalars(select(Cache).where(Cache.user_id == user.user_id)
                                       .order_by(Cache.created_at, Cache.id))).all())


async def _cli(platform: Platform, session: AsyncSession, c: Cache, *args: str) -> str:
    """``redis-cli`` in the cache's container as Cumulo's management user (``acl``); as the
    tenant's user for a server not told of it yet (a cache made before it, until the reconciler's
    pass gives it one)."""
    if c.status != AVAILABLE:
        raise Conflict(f"cache '{c.name}' is {c.status}")
    admin = acl.admin_password(platform, c)
    code, out = await acl.cli(platform, c, acl.ADMIN, admin, *args) if admin is not None else (1, "NOAUTH")
    if out.startswith(REFUSED) and c.secret_id:
        password = await placement.read_password(platform, session, c.user_id, c.secret_id)
        code, out = await acl.cli(platform, c, c.username, password, *args)
    if code != 0 or out.startswith(("ERR", "NOPERM", *REFUSED)):
        raise Conflict(f"redis-cli {args[0]} failed: {out.strip()[:200]}")
    return out


async def flush(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Cache:
    c = await resolve(session, user, ref)
    await _cli(platform, session, c, "FLUSHALL")
    events.record(session, user_id=c.user_id, action="cache.flushed", resource_type="cache", resource_id=c.id,
                  name=c.name)
    await session.commit()
    return c


def parse_info(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and not key.startswith("#"):
            out[key] = value
    return out


async def stats(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> CacheStats:
    c = await resolve(session, user, ref)
    info = parse_info(await _cli(platform, session, c, "INFO"))
    keys = sum(int(v.split(",")[0].split("=")[1]) for k, v in info.items() if k.startswith("db") and "keys=" in v)

    def num(key: str) -> int:
        try:
            return int(info.get(key, "0"))
        except ValueError:
            return 0
    return CacheStats(used_memory=num("used_memory"), maxmemory=num("maxmemory"), keys=keys,
                      hits=num("keyspace_hits"), misses=num("keyspace_misses"), evictions=num("evicted_keys"),
                      connected_clients=num("connected_clients"), uptime_seconds=num("uptime_in_seconds"))


async def rotate(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> tuple[Cache, str]:
    """A new password for the cache's user: its hash goes in the ACL file, the server reloads it
    (``ACL LOAD`` as Cumulo's management user), then the secret gets the new version. Under the
    cache's lease: a reconciler's pass in between would load the file of a half-done rotation."""
    c = await resolve(session, user, ref)
    async with _converging(platform, c.id):
        await session.refresh(c)
        if c.status != AVAILABLE or not c.secret_id:
            raise Conflict(f"cache '{c.name}' is {c.status}")
        admin = await acl.ensure(platform, session, c)
        before, password = acl.read(platform, c), placement.new_password()
        acl.write(platform, c, acl.text(c.username, acl.digest(password), acl.digest(admin)))
        if not await acl.load(platform, c, (acl.ADMIN, admin)):
            if before is not None:
                acl.write(platform, c, before)
            raise Conflict("the server did not take the new password; try again")
        await placement.update_password(platform, session, c.user_id, c.secret_id, password)
        events.record(session, user_id=c.user_id, action="cache.credentials_rotated", resource_type="cache",
                      resource_id=c.id, name=c.name)
        await session.commit()
    return c, password


async def _bring_up_or_fail(platform: Platform, session: AsyncSession, c: Cache) -> None:
    """Up (its address set), or ``error`` with the reason, committed, and raised."""
    try:
        c.address = await bring_up(platform, c)
    except CumuloError as exc:
        c.status, c.error = ERROR, exc.message
        await session.commit()
        raise


async def reboot(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Cache:
    c = await resolve(session, user, ref)
    if c.status not in (AVAILABLE, ERROR):
        raise Conflict(f"cache '{c.name}' is {c.status}")
    async with _converging(platform, c.id):  # a pass seeing it stopped mid-restart would record a crash
        await placement.containers(platform).restart(container_name(c.id))
        await _bring_up_or_fail(platform, session, c)
        c.status, c.error = AVAILABLE, None
        _record(session, c, "rebooted")
        await session.commit()
    return c


@contextlib.asynccontextmanager
async def _converging(platform: Platform, cache_id: str) -> AsyncIterator[None]:
    """Hold the reconciler's lease of the cache (``reconcile:caches:<id>``) while a stop or start
    changes its server: a pass that read the row before the change would undo it otherwise."""
    lease, holder = f"reconcile:{RECONCILE}:{cache_id}", f"caches-api:{new_id()}"
    for _ in range(LEASE_TRIES):
        if await locks.take_lease(platform.db, lease, holder, READY_TIMEOUT + 60):
            break
        await asyncio.sleep(0.25)
    else:
        raise Unavailable("the cache is being repaired; try again in a moment")
    try:
        yield
    finally:
        await locks.drop_lease(platform.db, lease, holder)


def _record(session: AsyncSession, c: Cache, what: str) -> None:
    events.record(session, user_id=c.user_id, action=f"cache.{what}", resource_type="cache", resource_id=c.id,
                  name=c.name)


async def stop(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Cache:
    """Stop the server; its container and volume (and so its keys) stay. Idempotent."""
    c = await resolve(session, user, ref)
    async with _converging(platform, c.id):
        await session.refresh(c)  # as a reconciler's pass left it (a crash is healed under its lease)
        if c.status not in (AVAILABLE, STOPPED):
            raise Conflict(f"cache '{c.name}' is {c.status}")
        if c.status == AVAILABLE and c.persistence == "none":  # nothing on the disk otherwise: loaded at start
            await _cli(platform, session, c, "SAVE")
        await placement.containers(platform).stop(container_name(c.id))
        if c.status != STOPPED:
            c.status = STOPPED
            _record(session, c, "stopped")
            await session.commit()
    return c


async def start(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Cache:
    """Start a stopped (or failed) cache from its volume; answers once it accepts connections."""
    c = await resolve(session, user, ref)
    if c.status == AVAILABLE:
        return c
    if c.status not in (STOPPED, ERROR) or c.address is None:
        raise Conflict(f"cache '{c.name}' is {c.status}")
    async with _converging(platform, c.id):
        await _bring_up_or_fail(platform, session, c)
        if c.persistence == "none":  # loaded: a later restart keeps nothing, as before the stop
            (placement.disk_path(platform, c.id, c.disk_backend) / SNAPSHOT).unlink(missing_ok=True)
        c.status, c.error = AVAILABLE, None
        _record(session, c, "started")
        await session.commit()
    return c


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    c = await resolve(session, user, ref)
    async with _converging(platform, c.id):  # a pass between the removal and the row's would make them again
        await placement.containers(platform).remove(container_name(c.id))
        await placement.drop_disk(platform, c.id)
        await placement.forget_password(session, c.user_id, c.secret_id)
        await session.delete(c)
        events.record(session, user_id=c.user_id, action="cache.deleted", resource_type="cache", resource_id=c.id,
                      name=c.name)
        await session.commit()


async def ids(platform: Platform) -> list[str]:
    async with platform.db.session() as session:
        return list((await session.scalars(select(Cache.id))).all())


async def converge(platform: Platform, cache_id: str) -> dict[str, Any] | None:
    """For the reconciler: the row's changes, None when there is nothing to do."""
    async with platform.db.session() as session:
        c = await session.get(Cache, cache_id)
        if c is None or c.status == CREATING or c.address is None:
            return None
        if c.status == STOPPED:  # stays stopped
            await placement.containers(platform).stop(container_name(c.id))
            return {"status": c.status}
        try:
            if c.status == AVAILABLE:  # a crash: billed until the moment it stopped
                await convergence.note_crash(platform, session, c, container_name(c.id))
            address = await bring_up(platform, c)
        except CumuloError as exc:
            if (c.status, c.error) != (ERROR, exc.message):
                c.status, c.error = ERROR, exc.message
                await session.commit()
            raise
        if (c.status, c.address) != (AVAILABLE, address):
            c.status, c.address, c.error = AVAILABLE, address, None
            await session.commit()
        try:  # a cache made before Cumulo's management user gets it (its file rewritten, loaded)
            await acl.ensure(platform, session, c)
        except (CumuloError, OSError) as exc:
            log.warning("cache %s: its ACL users not ensured: %s", c.id, getattr(exc, "message", None) or exc)
        return {"status": c.status}

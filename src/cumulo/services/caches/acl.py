"""A cache's Redis users: its ACL file (``users.acl`` on the cache's volume, read by the server at
its start and at ``ACL LOAD``), each password only as its SHA-256 (``#<hex>``).

- ``default`` (what an unauthenticated connection is) is off, without any password: no client
  gets in without one.
- ``cumulo-admin`` is Cumulo's own management user, with every command: ``INFO`` for the stats,
  ``FLUSHALL``, ``SAVE`` before a stop, ``ACL LOAD`` for a rotation. Its password is generated per
  cache and sealed under the master key in the cache's row (``admin_sealed``): never shown, never
  in the user's secrets. Its name has a dash, which a tenant's username cannot.
- the tenant's user (the generated password the user gets) has every command but the ``@admin``
  and ``@dangerous`` ones, the harmless of those given back (``GIVEN_BACK``): it cannot reconfigure
  the server (``CONFIG SET``, ``ACL SETUSER|DELUSER|SAVE|LOAD``, ``MODULE``, ``DEBUG``), stop it
  (``SHUTDOWN``, ``FAILOVER``), make it a replica or reach other servers (``REPLICAOF``, ``SLAVEOF``,
  ``MIGRATE``, ``SYNC``, ``PSYNC``), watch Cumulo's own connection (``MONITOR``), save or rewrite
  files on its own (``SAVE``, ``BGSAVE``, ``BGREWRITEAOF``), kill or pause clients.

A cache made before the management user existed is upgraded by ``ensure`` (the reconciler's pass,
or a rotation): its file is rewritten (its tenant's hash kept) and loaded with the tenant's own
password, which the old file allowed to; an ``ACL LOAD`` closes the tenant's open connections once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core import crypto
from cumulo.platform import Platform
from cumulo.services.caches.models import Cache
from cumulo.services.databases import placement

log = logging.getLogger("cumulo.caches")

ADMIN = "cumulo-admin"
REDIS_UID, REDIS_GID = 100, 101  # the image's redis user
FILE = "users.acl"
GIVEN_BACK = ("flushdb", "flushall", "keys", "sort", "sort_ro", "info", "role", "lastsave", "restore", "swapdb",
              "latency", "slowlog", "config|get", "client|list", "acl|users", "acl|list", "acl|getuser",
              "acl|dryrun", "acl|log", "module|list")
TENANT_RULES = " ".join(["~*", "&*", "+@all", "-@admin", "-@dangerous", *(f"+{c}" for c in GIVEN_BACK)])
VERIFIED = "caches_acl_verified"  # platform.extras: the caches whose server this process saw know the admin


def digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def text(username: str, tenant_digest: str, admin_digest: str) -> str:
    return (f"user default off resetpass resetkeys resetchannels -@all\n"
            f"user {ADMIN} on #{admin_digest} ~* &* +@all\n"
            f"user {username} on #{tenant_digest} {TENANT_RULES}\n")


def seal_admin(platform: Platform, c: Cache, password: str) -> None:
    c.admin_sealed = crypto.seal(platform, password.encode(), c.id.encode())


def admin_password(platform: Platform, c: Cache) -> str | None:
    return crypto.unseal(platform, c.admin_sealed, c.id.encode()).decode() if c.admin_sealed else None


def _path(platform: Platform, c: Cache) -> Path:
    return placement.disk_path(platform, c.id, c.disk_backend) / FILE


def read(platform: Platform, c: Cache) -> str | None:
    try:
        return _path(platform, c).read_text()
    except FileNotFoundError:
        return None


def write(platform: Platform, c: Cache, content: str) -> None:
    path = _path(platform, c)
    os.chown(path.parent, REDIS_UID, REDIS_GID)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    os.chown(path, REDIS_UID, REDIS_GID)


def tenant_digest(content: str | None, username: str) -> str | None:
    """The tenant's ``#<hex>`` in an ACL file's text."""
    for line in (content or "").splitlines():
        words = line.split()
        if words[:2] == ["user", username]:
            return next((w[1:] for w in words[2:] if w.startswith("#")), None)
    return None


async def cli(platform: Platform, c: Cache, user: str, password: str, *args: str) -> tuple[int, str]:
    """``redis-cli`` in the cache's container as ``user``: the password goes in the exec's
    environment (REDISCLI_AUTH), never in an argument."""
    from cumulo.services.caches.service import PORT, container_name

    return await placement.containers(platform).run(
        container_name(c.id), ["redis-cli", "--no-auth-warning", "--user", user, "-p", str(PORT), *args],
        env={"REDISCLI_AUTH": password})


async def load(platform: Platform, c: Cache, *credentials: tuple[str, str]) -> bool:
    """``ACL LOAD`` with the first of ``credentials`` (user, password) the server lets do it."""
    for user, password in credentials:
        code, out = await cli(platform, c, user, password, "ACL", "LOAD")
        if code == 0 and out.strip() == "OK":
            return True
    return False


async def ensure(platform: Platform, session: AsyncSession, c: Cache) -> str:
    """The cache's management password, its server made to know it: sealed in the row (committed)
    when the cache has none yet, the ACL file rewritten when it is not ``text`` (an older cache),
    and loaded unless this process already saw the server take it. Run under the cache's lease."""
    admin = admin_password(platform, c)
    if admin is None:
        admin = placement.new_password()
        seal_admin(platform, c, admin)
        await session.commit()
    current = read(platform, c)
    tenant = tenant_digest(current, c.username)
    wanted = text(c.username, tenant, digest(admin)) if tenant else None
    verified: set[str] = platform.extras.setdefault(VERIFIED, set())
    if wanted is not None and current == wanted:
        if c.id in verified:
            return admin
        code, out = await cli(platform, c, ADMIN, admin, "ACL", "WHOAMI")
        if code == 0 and out.strip() == ADMIN:
            verified.add(c.id)
            return admin
        if "WRONGPASS" not in out and "NOAUTH" not in out:  # e.g. still LOADING its data: the next pass looks again
            return admin
    tenant_password = await placement.read_password(platform, session, c.user_id, c.secret_id) if c.secret_id else ""
    wanted = wanted or text(c.username, digest(tenant_password), digest(admin))
    if current != wanted:
        write(platform, c, wanted)
    if await load(platform, c, (ADMIN, admin), (c.username, tenant_password)):
        verified.add(c.id)
        log.info("cache %s: ACL users loaded (management user %s)", c.id, ADMIN)
    else:
        log.warning("cache %s: the server did not load its ACL file; it will at its next start", c.id)
    return admin

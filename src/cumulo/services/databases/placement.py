"""What managed databases and caches share: where they run (VPC network, host port), their disk
(a Cumulo block volume made through the volume service's driver), their generated password and the
Secrets Manager secret that keeps it for the user."""

from __future__ import annotations

import asyncio
import os
import random
import secrets as pysecrets
import string
import subprocess
from collections.abc import Container
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.config import parse_port_range
from cumulo.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from cumulo.core.principal import Principal
from cumulo.drivers.compute import secretfiles
from cumulo.drivers.compute.base import ComputeDriver
from cumulo.drivers.volume.loop import GIB, LoopVolumes, run
from cumulo.platform import Platform
from cumulo.services.databases.containers import Containers
from cumulo.services.secrets import service as secrets
from cumulo.services.secrets.schemas import SecretCreate
from cumulo.services.volumes import service as volumes

ALPHABET = string.ascii_letters + string.digits  # URL-safe: connection strings need no escaping
PASSWORD_LENGTH = 32


def new_password() -> str:
    return "".join(pysecrets.choice(ALPHABET) for _ in range(PASSWORD_LENGTH))


def containers(platform: Platform) -> Containers:
    def make() -> Containers:
        root = secretfiles.default_root(f"{platform.installation_id}-data", platform.settings.instance_secrets_dir)
        return Containers(root)
    return platform.get_or_create("databases.containers", make)


def labels(platform: Platform, kind: str, resource_id: str, user_id: str) -> dict[str, str]:
    return {"cumulo.installation": platform.installation_id, "cumulo.kind": kind,
            "cumulo.resource": resource_id, "cumulo.owner": user_id}


async def network_for(platform: Platform, session: AsyncSession, user: Principal,
                      vpc_id: str | None) -> tuple[str | None, str | None]:
    """(vpc id, Docker network) the resource joins: the given VPC (404 if not the caller's) or the
    user's default VPC, as instances do."""
    from cumulo.services.network import service as network  # a peer service

    if vpc_id:
        placement = await network.attachment_for(platform, session, user, vpc_id, None)
        return placement.vpc_id, placement.network_name
    vpc = await network.default_vpc(platform, user.user_id)
    return vpc.id, vpc.network_name


async def ensure_network(platform: Platform, user_id: str, vpc_id: str | None,
                         network: str | None) -> tuple[str | None, str | None]:
    """(vpc id, Docker network) to start in: the recorded one while its network exists, else the
    user's default VPC (made again with its network, e.g. after an engine reset or once it was retired
    while the server was stopped)."""
    from cumulo.services.network import service as netsvc  # a peer service

    if network and await platform.drivers.network.exists(network):
        return vpc_id, network
    vpc = await netsvc.default_vpc(platform, user_id)
    return vpc.id, vpc.network_name


def publish_host(platform: Platform) -> str:
    return platform.settings.compute_publish_host


def public_host(platform: Platform) -> str:
    host = publish_host(platform)
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def free_host_port(platform: Platform, taken: Container[int | None]) -> int:
    """A free port of ``CUMULO_HOST_PORT_RANGE`` (the same range instances publish from), not in ``taken``
    (e.g. a nullable ``host_port`` column's values)."""
    low, high = parse_port_range(platform.settings.host_port_range)
    host = publish_host(platform)
    for _ in range(200):
        port = random.randint(low, high)
        if port not in taken and ComputeDriver.port_free(host, port):
            return port
    raise Conflict(f"no free host port is left in {low}-{high} (CUMULO_HOST_PORT_RANGE)")


def check_storage(platform: Platform, storage_gb: int) -> None:
    limit = platform.settings.volume_max_size_gb
    if storage_gb > limit:
        raise InvalidInput(f"storage_gb must be at most {limit} on this installation")


async def make_disk(platform: Platform, kind: str, resource_id: str, user_id: str, size_gb: int) -> str:
    """A block volume of ``size_gb`` GiB (size enforced where loop devices work); its backend."""
    return await volumes.driver(platform).create(resource_id, size_gb, labels(platform, kind, resource_id, user_id))


async def heal_disk(platform: Platform, kind: str, resource_id: str, user_id: str, backend: str) -> None:
    await volumes.driver(platform).ensure(resource_id, backend, labels(platform, kind, resource_id, user_id))


async def grow_disk(platform: Platform, resource_id: str, backend: str, size_gb: int, *, offline: bool) -> None:
    """Grow a size-enforced disk: its file, then the ext4 inside, online (the mounted file system,
    where the kernel lets this process) or offline (unmounted: the caller stopped its container;
    ``heal_disk`` mounts it again). A ``plain`` disk has no size to change."""
    if backend != "loop":
        return
    drv = volumes.driver(platform)
    image, mnt = drv.image(resource_id), drv.mountpoint(resource_id)

    def devices() -> list[str]:
        return run("losetup", "-j", str(image), "-O", "NAME", "-n").split()

    def grow() -> None:
        if image.stat().st_size < size_gb * GIB:
            with open(image, "r+b") as fh:
                fh.truncate(size_gb * GIB)
        if not offline:
            for device in devices():
                run("losetup", "-c", device)
                run("resize2fs", device)
            return
        if os.path.ismount(mnt):
            run("umount", str(mnt))
        for device in devices():
            run("losetup", "-d", device)
        checked = subprocess.run(["e2fsck", "-f", "-y", str(image)], capture_output=True, text=True, check=False)
        if checked.returncode not in (0, 1):  # 1: errors corrected
            raise Unavailable(f"e2fsck of the disk failed: {(checked.stderr or checked.stdout).strip()[:300]}")
        run("resize2fs", str(image))

    await asyncio.to_thread(grow)


async def drop_disk(platform: Platform, resource_id: str) -> None:
    await volumes.driver(platform).destroy(resource_id)


def disk_name(resource_id: str) -> str:
    return LoopVolumes.docker_name(resource_id)


def disk_path(platform: Platform, resource_id: str, backend: str) -> Path:
    """Where the disk's files are on the host."""
    return volumes.driver(platform).data_dir(resource_id, backend)


async def store_password(platform: Platform, session: AsyncSession, user_id: str, name: str,
                         password: str, description: str) -> str:
    """A secret of the user holding ``password`` (committed with the caller's session); its id."""
    secret = await secrets.create(platform, session, user_id,
                                  SecretCreate(name=name, value=password, description=description))
    return secret.id


async def read_password(platform: Platform, session: AsyncSession, user_id: str, secret_id: str) -> str:
    try:
        return (await secrets.get_value(platform, session, user_id, secret_id)).value
    except Conflict as exc:
        raise Unavailable(f"the credentials secret is not usable: {exc.message}") from exc


async def update_password(platform: Platform, session: AsyncSession, user_id: str, secret_id: str,
                          password: str) -> None:
    from cumulo.services.secrets.schemas import SecretUpdate

    await secrets.put_value(platform, session, user_id, secret_id, SecretUpdate(value=password))


async def forget_password(session: AsyncSession, user_id: str, secret_id: str | None) -> None:
    if not secret_id:
        return
    try:
        await secrets.schedule_deletion(session, user_id, secret_id, force=True)
    except NotFound:
        pass

"""VPC and subnet use cases, and the network placement of instances (used by the compute service).

A VPC is one Docker bridge network whose IPAM pool is the VPC's CIDR block; all VPCs of an
installation share one engine, so their blocks never overlap (whoever owns them), nor any network
of the host itself. A block chosen for the user comes from the operator's pool (``CUMULO_VPC_POOL``).
A subnet is a range of that block: an instance launched into it gets the next free address,
recorded in ``network_attachments`` until the instance is deleted.

Every user has a default VPC, made on first need (an instance launched without ``vpc_id``): nothing
of a tenant ever joins Docker's shared default bridge. It goes away again when its last instance
does and it has no subnets (``retire_default_vpc``), so idle users hold no block of the pool.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
from collections.abc import Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware
from cumulo.core.config import parse_vpc_pool
from cumulo.core.errors import Conflict, InvalidInput
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db import locks
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.drivers.network.host import host_networks
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.network.models import Attachment, Subnet, Vpc
from cumulo.services.network.schemas import (
    MAX_PREFIX,
    NetworkAttachment,
    SubnetCreate,
    SubnetOut,
    VpcCreate,
    VpcOut,
)
from cumulo.services.quotas import service as quotas

DEFAULT_AZ = "local-1a"
DEFAULT_NAME = "default"


def labels(platform: Platform, vpc: Vpc) -> dict[str, str]:
    return {"cumulo.installation": platform.installation_id, "cumulo.kind": "vpc",
            "cumulo.resource": vpc.id, "cumulo.owner": vpc.user_id}


# --- lookups ---------------------------------------------------------------------------------------

async def get_vpc(session: AsyncSession, user: Principal, ref: str) -> Vpc:
    return await owned(session, Vpc, user.user_id, ref, "vpc")


async def network_name(session: AsyncSession, user: Principal | str, ref: str) -> str:
    """The engine network of the caller's VPC ``ref`` (id or name), for other services' containers
    (functions); NotFound (404) for a missing VPC or anyone else's."""
    user_id = user if isinstance(user, str) else user.user_id
    return str((await owned(session, Vpc, user_id, ref, "vpc")).network_name)


async def get_subnet(session: AsyncSession, user: Principal, ref: str, vpc_id: str | None = None) -> Subnet:
    extra = [Subnet.vpc_id == vpc_id] if vpc_id else []
    return await owned(session, Subnet, user.user_id, ref, "subnet", *extra)


# --- rendering -------------------------------------------------------------------------------------

async def vpc_out(session: AsyncSession, vpc: Vpc) -> VpcOut:
    count = await session.scalar(select(func.count()).select_from(Subnet).where(Subnet.vpc_id == vpc.id))
    return VpcOut(id=vpc.id, name=vpc.name, cidr_block=vpc.cidr_block, network_name=vpc.network_name,
                  subnet_count=int(count or 0), is_default=vpc.is_default,
                  created_at=aware(vpc.created_at))


def gateway_of(vpc: Vpc) -> str:
    """The router of every instance in the VPC: its Docker bridge's address (block + 1)."""
    return str(ipaddress.IPv4Network(vpc.cidr_block).network_address + 1)


async def subnet_out(session: AsyncSession, subnet: Subnet) -> SubnetOut:
    net = ipaddress.ip_network(subnet.cidr_block)
    vpc = await session.get(Vpc, subnet.vpc_id)
    used = await session.scalar(select(func.count()).select_from(Attachment)
                                .where(Attachment.subnet_id == subnet.id))
    return SubnetOut(id=subnet.id, vpc_id=subnet.vpc_id, name=subnet.name, cidr_block=subnet.cidr_block,
                     availability_zone=subnet.availability_zone,
                     gateway_ip=gateway_of(vpc) if vpc else str(net.network_address + 1),
                     broadcast_ip=str(net.broadcast_address),
                     available_ip_count=max(0, net.num_addresses - 3 - int(used or 0)),
                     created_at=aware(subnet.created_at))


# --- VPCs ------------------------------------------------------------------------------------------

Occupied = list[tuple[ipaddress.IPv4Network, str]]
ALLOCATION_ROUNDS = 6  # looks at the taken blocks, each followed by up to 8 creates


async def _occupied(platform: Platform, session: AsyncSession) -> Occupied:
    """Every block a new VPC must not overlap, with what holds it: other VPCs (of every user),
    networks Docker has (ours or not), and this host's own networks (interfaces, routes, loopback)."""
    found: Occupied = [(ipaddress.IPv4Network(c), "another VPC")
                       for c in (await session.scalars(select(Vpc.cidr_block))).all()]
    found += [(n, "a Docker network") for n in await platform.drivers.network.occupied_blocks()]
    found += [(n, "a network of this host (an interface address or a route)")
              for n in await asyncio.to_thread(host_networks)]
    return found


def _pool(platform: Platform, prefix: int) -> Iterator[ipaddress.IPv4Network]:
    """Candidate blocks of the operator's pool (``CUMULO_VPC_POOL``), in order."""
    for block in parse_vpc_pool(platform.settings.vpc_pool):
        if block.prefixlen >= prefix:
            if block.prefixlen <= MAX_PREFIX:
                yield block
            continue
        yield from block.subnets(new_prefix=prefix)


async def _allocate(platform: Platform, session: AsyncSession, vpc: Vpc, wanted: ipaddress.IPv4Network | None,
                    prefix: int) -> None:
    """Choose the VPC's block (``wanted``, or a free one of the pool) and create its Docker network.
    Another installation on the same engine (or a concurrent create) may take a free block between
    our look and Docker's create: Docker then refuses the overlap, and the next free block is tried,
    looking afresh at what is taken after every few refusals."""
    last: Conflict | None = None
    for _round in range(ALLOCATION_ROUNDS if wanted is None else 1):
        occupied = await _occupied(platform, session)
        if wanted is not None:
            clash = next(((net, what) for net, what in occupied if net.overlaps(wanted)), None)
            if clash:
                raise Conflict(f"cidr_block {wanted} overlaps {clash[0]}, {clash[1]}: choose another block")
            candidates = [wanted]
        else:
            free = (c for c in _pool(platform, prefix) if not any(net.overlaps(c) for net, _ in occupied))
            candidates = list(itertools.islice(free, 8))
            if not candidates:
                raise Conflict(f"no free /{prefix} block is left in the VPC pool ({platform.settings.vpc_pool}): "
                               "pass cidr_block, or ask the operator to widen CUMULO_VPC_POOL")
        for block in candidates:
            try:
                await platform.drivers.network.create(vpc.network_name, str(block), labels(platform, vpc))
            except Conflict as exc:
                last = exc
                continue
            vpc.cidr_block = str(block)
            return
    raise last or Conflict("could not allocate a network block")


def _new_vpc(user_id: str, name: str, default: bool = False) -> Vpc:
    vpc = Vpc(id=new_id(), user_id=user_id, name=name, default_for=user_id if default else None)
    vpc.network_name = f"cumulo-vpc-{vpc.id[:12]}"
    return vpc


async def create_vpc(platform: Platform, session: AsyncSession, user: Principal, body: VpcCreate) -> Vpc:
    await quotas.check(session, platform, user.user_id, "vpcs")  # holds the user's quota lock until the commit
    if await session.scalar(select(Vpc.id).where(Vpc.user_id == user.user_id, Vpc.name == body.name)):
        raise Conflict(f"you already have a VPC named '{body.name}'")
    vpc = _new_vpc(user.user_id, body.name)
    wanted = ipaddress.IPv4Network(body.cidr_block) if body.cidr_block else None
    await _allocate(platform, session, vpc, wanted, platform.settings.vpc_prefix)
    session.add(vpc)
    events.record(session, user_id=user.user_id, action="vpc.created", resource_type="vpc", resource_id=vpc.id,
                  name=vpc.name, cidr_block=vpc.cidr_block)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        await platform.drivers.network.remove(vpc.network_name)
        raise Conflict(f"a VPC named '{body.name}' or with block {vpc.cidr_block} already exists") from exc
    except BaseException:
        await platform.drivers.network.remove(vpc.network_name)
        raise
    return vpc


# --- the default VPC -------------------------------------------------------------------------------

async def ensure_default_vpc(platform: Platform, session: AsyncSession, user_id: str) -> tuple[Vpc, bool]:
    """The user's default VPC, created (row flushed, not committed) with its Docker network when
    missing. The caller holds the user's quota lock (``locks.hold(session, f"quota:{user_id}")``)
    and commits; the flag says this call created a Docker network, which the caller removes
    (``platform.drivers.network.remove(vpc.network_name)``) when its transaction fails."""
    vpc = await session.scalar(select(Vpc).where(Vpc.default_for == user_id))
    if vpc is not None:
        if await platform.drivers.network.exists(vpc.network_name):
            return vpc, False
        await platform.drivers.network.create(vpc.network_name, vpc.cidr_block, labels(platform, vpc))  # e.g. after an engine reset
        return vpc, True
    taken = await session.scalar(select(Vpc.id).where(Vpc.user_id == user_id, Vpc.name == DEFAULT_NAME))
    vpc = _new_vpc(user_id, DEFAULT_NAME if not taken else f"{DEFAULT_NAME}-{new_id()[:8]}", default=True)
    await _allocate(platform, session, vpc, None, platform.settings.vpc_default_prefix)
    session.add(vpc)
    events.record(session, user_id=user_id, action="vpc.created", resource_type="vpc", resource_id=vpc.id,
                  name=vpc.name, cidr_block=vpc.cidr_block, is_default=True)
    try:
        await session.flush()
    except BaseException:
        await platform.drivers.network.remove(vpc.network_name)
        raise
    return vpc, True


async def default_vpc(platform: Platform, user_id: str) -> Vpc:
    """``ensure_default_vpc`` in a transaction of its own (committed), for callers without one."""
    async with platform.db.session() as session:
        await locks.hold(session, f"quota:{user_id}")
        vpc, created = await ensure_default_vpc(platform, session, user_id)
        try:
            await session.commit()
        except BaseException:
            if created:
                await platform.drivers.network.remove(vpc.network_name)
            raise
        return vpc


async def retire_default_vpc(platform: Platform, user_id: str) -> bool:
    """Remove the user's default VPC once nothing is placed in it and it has no subnets (its block
    goes back to the pool; the next launch without a VPC makes a new one). True when removed."""
    async with platform.db.session() as session:
        await locks.hold(session, f"quota:{user_id}")  # a launch placing an instance waits, or went first
        vpc = await session.scalar(select(Vpc).where(Vpc.default_for == user_id))
        if vpc is None:
            return False
        busy = await session.scalar(select(func.count()).select_from(Attachment).where(Attachment.vpc_id == vpc.id))
        subnets = await session.scalar(select(func.count()).select_from(Subnet).where(Subnet.vpc_id == vpc.id))
        if busy or subnets or await ports.users_of("vpc", session, user_id, vpc.id):
            return False  # a stopped database or cache would come back in another VPC
        try:
            await platform.drivers.network.remove(vpc.network_name)
        except Conflict:  # a container is still attached (e.g. a function): keep it
            return False
        await session.delete(vpc)
        events.record(session, user_id=user_id, action="vpc.deleted", resource_type="vpc", resource_id=vpc.id,
                      name=vpc.name, reason="the default VPC has no instances left")
        await session.commit()
        return True


async def list_vpcs(session: AsyncSession, user: Principal) -> list[Vpc]:
    return list((await session.scalars(select(Vpc).where(Vpc.user_id == user.user_id)
                                       .order_by(Vpc.created_at, Vpc.id))).all())


async def delete_vpc(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    """Deletes the VPC and its (empty) subnets; 409 while any instance, database or cache (stopped
    ones too: they would start again in it) is placed in it."""
    vpc = await get_vpc(session, user, ref)
    users = await session.scalar(select(func.count()).select_from(Attachment).where(Attachment.vpc_id == vpc.id))
    if users:
        raise Conflict(f"VPC '{vpc.name}' is in use by {users} instance(s): terminate them first")
    placed = await ports.users_of("vpc", session, user.user_id, vpc.id)  # databases, caches: stopped ones too
    if placed:
        raise Conflict(f"VPC '{vpc.name}' is in use by {', '.join(placed)}: delete them first")
    await platform.drivers.network.remove(vpc.network_name)  # Conflict if containers are still attached
    await session.execute(delete(Subnet).where(Subnet.vpc_id == vpc.id))
    await session.delete(vpc)
    events.record(session, user_id=user.user_id, action="vpc.deleted", resource_type="vpc", resource_id=vpc.id,
                  name=vpc.name)
    await session.commit()


# --- subnets ---------------------------------------------------------------------------------------

async def create_subnet(session: AsyncSession, user: Principal, vpc_ref: str, body: SubnetCreate) -> Subnet:
    vpc = await get_vpc(session, user, vpc_ref)
    block, parent = ipaddress.IPv4Network(body.cidr_block), ipaddress.IPv4Network(vpc.cidr_block)
    if not block.subnet_of(parent):
        raise InvalidInput(f"cidr_block {block} is not inside the VPC's block {parent}")
    siblings = (await session.scalars(select(Subnet).where(Subnet.vpc_id == vpc.id))).all()
    for other in siblings:
        if other.name == body.name:
            raise Conflict(f"VPC '{vpc.name}' already has a subnet named '{body.name}'")
        if ipaddress.IPv4Network(other.cidr_block).overlaps(block):
            raise Conflict(f"cidr_block {block} overlaps subnet '{other.name}' ({other.cidr_block})")
    subnet = Subnet(user_id=user.user_id, vpc_id=vpc.id, name=body.name, cidr_block=str(block),
                    availability_zone=body.availability_zone or DEFAULT_AZ)
    session.add(subnet)
    await flush_or_conflict(session, f"VPC '{vpc.name}' already has a subnet named '{body.name}'")
    events.record(session, user_id=user.user_id, action="subnet.created", resource_type="subnet",
                  resource_id=subnet.id, name=subnet.name, vpc_id=vpc.id, cidr_block=subnet.cidr_block)
    await session.commit()
    return subnet


async def list_subnets(session: AsyncSession, user: Principal, vpc_ref: str) -> list[Subnet]:
    vpc = await get_vpc(session, user, vpc_ref)
    return list((await session.scalars(select(Subnet).where(Subnet.vpc_id == vpc.id)
                                       .order_by(Subnet.cidr_block, Subnet.id))).all())


async def delete_subnet(session: AsyncSession, user: Principal, ref: str) -> None:
    subnet = await get_subnet(session, user, ref)
    users = await session.scalar(select(func.count()).select_from(Attachment)
                                 .where(Attachment.subnet_id == subnet.id))
    if users:
        raise Conflict(f"subnet '{subnet.name}' is in use by {users} instance(s): terminate them first")
    await session.delete(subnet)
    events.record(session, user_id=user.user_id, action="subnet.deleted", resource_type="subnet",
                  resource_id=subnet.id, name=subnet.name, vpc_id=subnet.vpc_id)
    await session.commit()


# --- placement of instances (the contract with the compute service) ----------------------------------

async def _free_address(platform: Platform, session: AsyncSession, vpc: Vpc, subnet: Subnet) -> str:
    net = ipaddress.IPv4Network(subnet.cidr_block)
    reserved = {net.network_address, net.network_address + 1, net.broadcast_address,
                ipaddress.IPv4Network(vpc.cidr_block).network_address + 1}  # Docker's bridge gateway
    taken = set((await session.scalars(select(Attachment.ipv4_address)
                                       .where(Attachment.subnet_id == subnet.id))).all())
    taken |= await platform.drivers.network.addresses_in_use(vpc.network_name)
    for host in net.hosts():
        if host not in reserved and str(host) not in taken:
            return str(host)
    raise Conflict(f"subnet '{subnet.name}' ({subnet.cidr_block}) has no free address left")


async def attachment_for(platform: Platform, session: AsyncSession, user: Principal | str, vpc_id: str | None, subnet_id: str | None,
                         *, instance_id: str | None = None) -> NetworkAttachment:
    """Where a new instance joins. Unknown or foreign ids are 404; a subnet of another VPC is 400.

    With ``instance_id`` the placement (and the subnet address) is recorded in the caller's
    transaction (no commit) and held until ``release_instance``; the VPC and subnet then count
    as in use. Without a subnet the address is left to Docker (``ipv4_address`` None)."""
    if not vpc_id and not subnet_id:
        return NetworkAttachment(network_name=None, ipv4_address=None, vpc_id=None, subnet_id=None)
    user_id = user if isinstance(user, str) else user.user_id
    subnet = await owned(session, Subnet, user_id, subnet_id, "subnet") if subnet_id else None
    vpc = await owned(session, Vpc, user_id, vpc_id, "vpc") if vpc_id else None
    if subnet and vpc and subnet.vpc_id != vpc.id:
        raise InvalidInput(f"subnet '{subnet_id}' is not in VPC '{vpc_id}'")
    if vpc is None:
        assert subnet is not None
        vpc = await session.get(Vpc, subnet.vpc_id)
        assert vpc is not None
    address = await _free_address(platform, session, vpc, subnet) if subnet else None
    if instance_id:
        await session.execute(delete(Attachment).where(Attachment.instance_id == instance_id))
        session.add(Attachment(instance_id=instance_id, user_id=user_id, vpc_id=vpc.id,
                               subnet_id=subnet.id if subnet else None, ipv4_address=address))
        await session.flush()
    return NetworkAttachment(network_name=vpc.network_name, ipv4_address=address, vpc_id=vpc.id,
                             subnet_id=subnet.id if subnet else None)


async def release_instance(session: AsyncSession, instance_id: str) -> None:
    """Give back the address and VPC placement of a deleted instance (in the caller's transaction)."""
    await session.execute(delete(Attachment).where(Attachment.instance_id == instance_id))


async def attachment_of(session: AsyncSession, instance_id: str) -> NetworkAttachment | None:
    """The recorded placement of an instance (e.g. to recreate its container with the same address)."""
    row = await session.get(Attachment, instance_id)
    if row is None:
        return None
    vpc = await session.get(Vpc, row.vpc_id)
    return NetworkAttachment(network_name=vpc.network_name if vpc else None, ipv4_address=row.ipv4_address,
                             vpc_id=row.vpc_id, subnet_id=row.subnet_id)

"""VPC and subnet routes (seed paths ``/vpcs``, ``/vpcs/{id}/subnets``, ``/subnets/{id}``);
``{vpc}`` and ``{subnet}`` are an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.network import service
from cumulo.services.network.schemas import SubnetCreate, SubnetOut, VpcCreate, VpcOut

router = APIRouter(tags=["network"])


@router.post("/vpcs", status_code=201, response_model=VpcOut)
async def create_vpc(body: VpcCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> VpcOut:
    return await service.vpc_out(session, await service.create_vpc(platform, session, user, body))


@router.get("/vpcs", response_model=list[VpcOut])
async def list_vpcs(user: UserDep, session: SessionDep) -> list[VpcOut]:
    return [await service.vpc_out(session, v) for v in await service.list_vpcs(session, user)]


@router.get("/vpcs/{vpc}", response_model=VpcOut)
async def get_vpc(vpc: str, user: UserDep, session: SessionDep) -> VpcOut:
    return await service.vpc_out(session, await service.get_vpc(session, user, vpc))


@router.delete("/vpcs/{vpc}", status_code=204)
async def delete_vpc(vpc: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete_vpc(platform, session, user, vpc)
    return Response(status_code=204)


@router.post("/vpcs/{vpc}/subnets", status_code=201, response_model=SubnetOut)
async def create_subnet(vpc: str, body: SubnetCreate, user: UserDep, session: SessionDep) -> SubnetOut:
    return await service.subnet_out(session, await service.create_subnet(session, user, vpc, body))


@router.get("/vpcs/{vpc}/subnets", response_model=list[SubnetOut])
async def list_subnets(vpc: str, user: UserDep, session: SessionDep) -> list[SubnetOut]:
    return [await service.subnet_out(session, s) for s in await service.list_subnets(session, user, vpc)]


@router.get("/subnets/{subnet}", response_model=SubnetOut)
async def get_subnet(subnet: str, user: UserDep, session: SessionDep) -> SubnetOut:
    return await service.subnet_out(session, await service.get_subnet(session, user, subnet))


@router.delete("/subnets/{subnet}", status_code=204)
async def delete_subnet(subnet: str, user: UserDep, session: SessionDep) -> Response:
    await service.delete_subnet(session, user, subnet)
    return Response(status_code=204)

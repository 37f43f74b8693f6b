"""Key pair routes: ``/keypairs`` (create or import, list), ``/keypairs/{keypair}`` (get, delete)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.keypairs import service
from cumulo.services.keypairs.service import KeyPairCreate, KeyPairOut

router = APIRouter(tags=["keypairs"])


@router.post("/keypairs", status_code=201, response_model=KeyPairOut)
async def create_keypair(body: KeyPairCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> KeyPairOut:
    """Without ``public_key``: a new Ed25519 pair, the private key in this answer only."""
    k, private = await service.create(platform, session, user, body)
    return service.out(k, private)


@router.get("/keypairs", response_model=list[KeyPairOut])
async def list_keypairs(user: UserDep, session: SessionDep) -> list[KeyPairOut]:
    return [service.out(k) for k in await service.list_keypairs(session, user)]


@router.get("/keypairs/{keypair}", response_model=KeyPairOut)
async def get_keypair(keypair: str, user: UserDep, session: SessionDep) -> KeyPairOut:
    return service.out(await service.get(session, user, keypair))


@router.delete("/keypairs/{keypair}", status_code=204)
async def delete_keypair(keypair: str, user: UserDep, session: SessionDep) -> Response:
    await service.delete(session, user, keypair)
    return Response(status_code=204)

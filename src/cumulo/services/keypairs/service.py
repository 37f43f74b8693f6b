"""Key pair use cases: create (an Ed25519 pair; the private key is answered once and never kept),
import (an OpenSSH public key: ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa of 2048 bits or
more), list, get, delete; and ``public_key_for`` for VM launches."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Conflict, InvalidInput
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.keypairs.models import KeyPair
from cumulo.services.quotas import service as quotas

NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$"
KINDS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")


class KeyPairCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME, max_length=64)
    public_key: str | None = Field(None, max_length=16384, description="import this OpenSSH public key "
                                   "instead of making a new pair")


class KeyPairOut(BaseModel):
    id: str
    name: str
    public_key: str
    fingerprint: str
    private_key: str | None = Field(None, description="only in the answer that made the pair: keep it")


def out(k: KeyPair, private_key: str | None = None) -> KeyPairOut:
    return KeyPairOut(id=k.id, name=k.name, public_key=k.public_key, fingerprint=k.fingerprint,
                      private_key=private_key)


def _parse(text: str) -> str:
    """The key's canonical one-line form (type and base64, the comment dropped); 400 otherwise."""
    parts = text.strip().split()
    if len(parts) < 2 or parts[0] not in KINDS or "\n" in text.strip():
        raise InvalidInput(f"public_key must be one OpenSSH public key line ({', '.join(KINDS)})")
    line = f"{parts[0]} {parts[1]}"
    try:
        key = serialization.load_ssh_public_key(line.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidInput("public_key is not a valid OpenSSH public key") from exc
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise InvalidInput("RSA keys need at least 2048 bits")
    return line


def fingerprint(line: str) -> str:
    digest = hashlib.sha256(base64.b64decode(line.split()[1])).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


async def create(platform: Platform, session: AsyncSession, user: Principal,
                 body: KeyPairCreate) -> tuple[KeyPair, str | None]:
    private = None
    if body.public_key is not None:
        line = _parse(body.public_key)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()).decode()
        line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                             serialization.PublicFormat.OpenSSH).decode()
    await quotas.check(session, platform, user.user_id, "keypairs")
    if await session.scalar(select(KeyPair.id).where(KeyPair.user_id == user.user_id, KeyPair.name == body.name)):
        raise Conflict(f"you already have a key pair named '{body.name}'")
    k = KeyPair(id=new_id(), user_id=user.user_id, name=body.name, public_key=line, fingerprint=fingerprint(line))
    session.add(k)
    await flush_or_conflict(session, f"you already have a key pair named '{body.name}'")
    events.record(session, user_id=user.user_id, action="keypair.imported" if private is None else "keypair.created",
                  resource_type="keypair", resource_id=k.id, name=k.name, fingerprint=k.fingerprint)
    await session.commit()
    return k, private


async def get(session: AsyncSession, user: Principal | str, ref: str) -> KeyPair:
    return await owned(session, KeyPair, user if isinstance(user, str) else user.user_id, ref, "key pair")


async def list_keypairs(session: AsyncSession, user: Principal) -> list[KeyPair]:
    return list((await session.scalars(select(KeyPair).where(KeyPair.user_id == user.user_id)
                                       .order_by(KeyPair.created_at, KeyPair.id))).all())


async def delete(session: AsyncSession, user: Principal, ref: str) -> None:
    k = await get(session, user, ref)
    await session.delete(k)
    events.record(session, user_id=user.user_id, action="keypair.deleted", resource_type="keypair",
                  resource_id=k.id, name=k.name)
    await session.commit()


async def public_key_for(session: AsyncSession, user_id: str, ref: str) -> str:
    """The public key of one of the user's key pairs (404 like a missing one for anyone else's)."""
    return (await get(session, user_id, ref)).public_key

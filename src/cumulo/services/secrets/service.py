"""Secrets use cases. Values are sealed with the owner's data key (see ``keys``) and leave this
module only through ``get_value`` (audited) and ``resolve_env`` (for instance/function launches)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput, not_found
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas
from cumulo.services.secrets import keys
from cumulo.services.secrets.models import Secret, SecretVersion
from cumulo.services.secrets.schemas import (
    NAME_PATTERN,
    SecretCreate,
    SecretOut,
    SecretUpdate,
    SecretValueOut,
)

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_RECOVERY_DAYS, MIN_RECOVERY_DAYS = 30, 7


def _uid(user: Principal | str) -> str:
    return user if isinstance(user, str) else user.user_id


def _context(secret_id: str, version: int) -> str:
    return f"{secret_id}:{version}"


def secret_out(secret: Secret) -> SecretOut:
    return SecretOut(id=secret.id, name=secret.name, description=secret.description, version=secret.version,
                     status="SCHEDULED_FOR_DELETION" if secret.delete_after else "ACTIVE",
                     deletion_date=aware(secret.delete_after), last_accessed_at=aware(secret.last_accessed_at),
                     created_at=aware(secret.created_at), updated_at=aware(secret.updated_at))


async def find(session: AsyncSession, user: Principal | str, ref: str) -> Secret:
    """A secret of ``user`` by id or by name; another user's secret is not found."""
    return await owned(session, Secret, _uid(user), ref, "secret")


def _require_active(secret: Secret) -> None:
    if secret.delete_after is not None:
        raise Conflict(f"secret '{secret.name}' is scheduled for deletion; restore it first")


async def create(platform: Any, session: AsyncSession, user: Principal | str, body: SecretCreate) -> Secret:
    user_id = _uid(user)
    if await session.scalar(select(Secret.id).where(Secret.user_id == user_id, Secret.name == body.name)):
        raise Conflict(f"a secret named '{body.name}' already exists")
    await quotas.check(session, platform, user_id, "secrets")
    key = await keys.data_key(platform, session, user_id)
    secret = Secret(user_id=user_id, name=body.name, description=body.description, version=1)
    session.add(secret)
    await flush_or_conflict(session, f"a secret named '{body.name}' already exists")
    session.add(SecretVersion(secret_id=secret.id, version=1, ciphertext=keys.seal(key, body.value,
                                                                                    _context(secret.id, 1))))
    events.record(session, user_id=user_id, action="secret.created", resource_type="secret",
                  resource_id=secret.id, name=secret.name)
    await session.commit()
    return secret


async def list_secrets(session: AsyncSession, user: Principal | str, *, include_deleted: bool = False) -> list[Secret]:
    query = select(Secret).where(Secret.user_id == _uid(user))
    if not include_deleted:
        query = query.where(Secret.delete_after.is_(None))
    return list((await session.scalars(query.order_by(Secret.name))).all())


async def get_value(platform: Any, session: AsyncSession, user: Principal | str, ref: str,
                    version: int | None = None) -> SecretValueOut:
    """The plaintext of the current (or a given) version; every read is recorded as ``secret.accessed``."""
    user_id = _uid(user)
    secret = await find(session, user_id, ref)
    _require_active(secret)
    wanted = version if version is not None else secret.version
    row = await session.scalar(select(SecretVersion).where(SecretVersion.secret_id == secret.id,
                                                           SecretVersion.version == wanted))
    if row is None:
        raise not_found("secret version", wanted)
    key = await keys.data_key(platform, session, user_id)
    value = keys.unseal(key, row.ciphertext, _context(secret.id, wanted))
    secret.last_accessed_at = utcnow()
    events.record(session, user_id=user_id, action="secret.accessed", resource_type="secret",
                  resource_id=secret.id, name=secret.name, version=wanted)
    out = secret_out(secret)
    await session.commit()
    return SecretValueOut(**out.model_dump(), value=value, value_version=wanted)


async def put_value(platform: Any, session: AsyncSession, user: Principal | str, ref: str,
                    body: SecretUpdate) -> Secret:
    """Store a new version; older versions stay readable with ``?version=``."""
    user_id = _uid(user)
    secret = await find(session, user_id, ref)
    _require_active(secret)
    key = await keys.data_key(platform, session, user_id)
    new_version = secret.version + 1
    session.add(SecretVersion(secret_id=secret.id, version=new_version,
                              ciphertext=keys.seal(key, body.value, _context(secret.id, new_version))))
    secret.version = new_version
    if body.description is not None:
        secret.description = body.description
    secret.updated_at = utcnow()
    events.record(session, user_id=user_id, action="secret.updated", resource_type="secret",
                  resource_id=secret.id, name=secret.name, version=new_version)
    try:
        await session.commit()
    except IntegrityError as exc:  # a concurrent update took this version number
        await session.rollback()
        raise Conflict("the secret was updated concurrently; retry") from exc
    return secret


async def schedule_deletion(session: AsyncSession, user: Principal | str, ref: str, *,
                            recovery_window_days: int = MAX_RECOVERY_DAYS, force: bool = False) -> Secret | None:
    """Mark for deletion after a recovery window (7-30 days), or delete at once with ``force``."""
    user_id = _uid(user)
    if not force and not MIN_RECOVERY_DAYS <= recovery_window_days <= MAX_RECOVERY_DAYS:
        raise InvalidInput(f"recovery_window_days must be between {MIN_RECOVERY_DAYS} and {MAX_RECOVERY_DAYS}")
    secret = await find(session, user_id, ref)
    if force:
        await _purge(session, secret)
        await session.commit()
        return None
    _require_active(secret)
    secret.delete_after = utcnow() + dt.timedelta(days=recovery_window_days)
    events.record(session, user_id=user_id, action="secret.deletion_scheduled", resource_type="secret",
                  resource_id=secret.id, name=secret.name, recovery_window_days=recovery_window_days)
    await session.commit()
    return secret


async def restore(session: AsyncSession, user: Principal | str, ref: str) -> Secret:
    user_id = _uid(user)
    secret = await find(session, user_id, ref)
    if secret.delete_after is None:
        raise Conflict(f"secret '{secret.name}' is not scheduled for deletion")
    secret.delete_after = None
    events.record(session, user_id=user_id, action="secret.restored", resource_type="secret",
                  resource_id=secret.id, name=secret.name)
    await session.commit()
    return secret


async def _purge(session: AsyncSession, secret: Secret) -> None:
    await session.execute(delete(SecretVersion).where(SecretVersion.secret_id == secret.id))
    await session.delete(secret)
    events.record(session, user_id=secret.user_id, action="secret.deleted", resource_type="secret",
                  resource_id=secret.id, name=secret.name)


async def purge_expired(session: AsyncSession) -> int:
    """Delete secrets whose recovery window is over (the reconciler calls this)."""
    rows = (await session.scalars(select(Secret).where(Secret.delete_after.is_not(None),
                                                       Secret.delete_after <= utcnow()).limit(500))).all()
    for secret in rows:
        await _purge(session, secret)
    await session.commit()
    return len(rows)


async def count(session: AsyncSession, user: Principal | str) -> int:
    return int(await session.scalar(select(func.count()).select_from(Secret).where(Secret.user_id == _uid(user))) or 0)


def check_env_mapping(mapping: dict[str, str]) -> None:
    """Validate ``{ENV_VAR: secret_name}`` (shape only) with a clear 400."""
    if len(mapping) > 100:
        raise InvalidInput("env_secrets may name at most 100 variables")
    for var, name in mapping.items():
        if not isinstance(var, str) or not ENV_NAME.match(var):
            raise InvalidInput(f"env_secrets: {var!r} is not a valid environment variable name")
        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            raise InvalidInput(f"env_secrets: {name!r} (for {var}) is not a valid secret name")


async def resolve_env(session: AsyncSession, user: Principal | str, mapping: dict[str, str], *,
                      platform: Any = None, audit: bool = True) -> dict[str, str]:
    """``{VAR: secret_name}`` -> ``{VAR: current value}`` for launches (instances, functions).

    Unknown names, another user's secrets and secrets scheduled for deletion are 404. Each read
    is recorded as ``secret.accessed`` in the caller's transaction (unless ``audit`` is false, for
    re-reads of a launch that was already audited); the caller commits.
    ``platform`` defaults to the running server's (needed for the master key).
    """
    check_env_mapping(mapping)
    if not mapping:
        return {}
    platform = platform or keys.platform_for(session)
    user_id = _uid(user)
    names = sorted(set(mapping.values()))
    rows = {s.name: s for s in (await session.scalars(
        select(Secret).where(Secret.user_id == user_id, Secret.name.in_(names)))).all()}
    for name in names:
        if name not in rows or rows[name].delete_after is not None:
            raise not_found("secret", name)
    current = {(s.id, s.version) for s in rows.values()}
    sealed = {v.secret_id: v.ciphertext for v in (await session.scalars(select(SecretVersion).where(
        SecretVersion.secret_id.in_([s.id for s in rows.values()])))).all() if (v.secret_id, v.version) in current}
    key = await keys.data_key(platform, session, user_id)
    now = utcnow()
    values: dict[str, str] = {}
    for name, secret in rows.items():
        values[name] = keys.unseal(key, sealed[secret.id], _context(secret.id, secret.version))
        if audit:
            secret.last_accessed_at = now
            events.record(session, user_id=user_id, action="secret.accessed", resource_type="secret",
                          resource_id=secret.id, name=name, version=secret.version, via="env")
    return {var: values[name] for var, name in mapping.items()}

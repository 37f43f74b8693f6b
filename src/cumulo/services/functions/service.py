"""Function use cases: create, update (new version), read, delete. Invocations are in ``invoke``."""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import re
import shutil
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput, NotFound, not_found
from cumulo.core.ids import is_uuid
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.drivers.functions.docker import FunctionDocker
from cumulo.platform import Platform
from cumulo.services.events import service as events
from cumulo.services.functions import code as codes
from cumulo.services.functions import runtimes
from cumulo.services.functions.models import EventSource, Function, FunctionVersion, Invocation
from cumulo.services.functions.pool import Pool
from cumulo.services.functions.schemas import (
    NAME_PATTERN,
    FunctionConfig,
    FunctionCreate,
    FunctionOut,
    FunctionUpdate,
)
from cumulo.services.network import service as network
from cumulo.services.quotas import service as quotas

DEFAULT_HANDLERS = {"python": "main.handler", "node": "index.handler"}
DEFAULTS = {"timeout_seconds": 30, "memory_mb": 128, "max_concurrency": 10}


def docker(platform: Platform) -> FunctionDocker:
    return platform.drivers.functions


def pool(platform: Platform) -> Pool:
    return platform.get_or_create("functions.pool", lambda: Pool(platform.installation_id, docker(platform)))


def _uid(user: Principal | str) -> str:
    return user if isinstance(user, str) else user.user_id


def function_out(platform: Platform, fn: Function, ver: FunctionVersion) -> FunctionOut:
    live = platform.extras.get("functions.pool")
    return FunctionOut(
        id=fn.id, name=fn.name, status=fn.status, version=ver.version, runtime=ver.runtime, handler=ver.handler,
        timeout_seconds=ver.timeout_seconds, memory_mb=ver.memory_mb, max_concurrency=ver.max_concurrency,
        env=dict(ver.env or {}), env_secrets=dict(ver.env_secrets or {}), vpc_id=ver.vpc_id,
        dead_letter_queue_id=ver.dead_letter_queue_id, code_sha256=ver.code_sha256, code_size=ver.code_size,
        warm_containers=live.count(fn.id) if live else 0,
        created_at=aware(fn.created_at), updated_at=aware(fn.updated_at))


def decode_zip(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("code_zip must be base64") from None


async def find(session: AsyncSession, user: Principal | str, ref: str) -> Function:
    """One of the caller's functions by id or by name; another user's is 404."""
    return await owned(session, Function, _uid(user), ref, "function")


async def current_version(session: AsyncSession, fn: Function) -> FunctionVersion:
    ver = await session.scalar(select(FunctionVersion).where(FunctionVersion.function_id == fn.id,
                                                             FunctionVersion.version == fn.version))
    if ver is None:
        raise not_found("function version", f"{fn.name}:{fn.version}")
    return ver


async def get(session: AsyncSession, user: Principal | str, ref: str) -> tuple[Function, FunctionVersion]:
    """The function and its current version in one query (the invoke path runs this on every call)."""
    query = select(Function, FunctionVersion).join(
        FunctionVersion, (FunctionVersion.function_id == Function.id) & (FunctionVersion.version == Function.version)
    ).where(Function.user_id == _uid(user))
    row = None
    if is_uuid(ref):
        row = (await session.execute(query.where(Function.id == ref))).first()
    if row is None and re.match(NAME_PATTERN, ref):
        row = (await session.execute(query.where(Function.name == ref))).first()
    if row is None:
        raise not_found("function", ref)
    return row[0], row[1]


async def list_functions(session: AsyncSession, user: Principal | str) -> list[tuple[Function, FunctionVersion]]:
    rows = (await session.execute(
        select(Function, FunctionVersion).join(FunctionVersion, (FunctionVersion.function_id == Function.id)
                                               & (FunctionVersion.version == Function.version))
        .where(Function.user_id == _uid(user)).order_by(Function.name))).all()
    return [(fn, ver) for fn, ver in rows]


async def _check_references(platform: Platform, session: AsyncSession, user_id: str, body: FunctionConfig,
                            ) -> str | None:
    """Validate names of secrets, the dead-letter queue and the VPC; returns the queue id."""
    from cumulo.services.secrets import service as secrets

    for var, name in (body.env_secrets or {}).items():
        try:
            secret = await secrets.find(session, user_id, name)
        except NotFound:
            raise InvalidInput(f"env_secrets: secret '{name}' (for {var}) not found") from None
        if secret.delete_after is not None:
            raise InvalidInput(f"env_secrets: secret '{name}' is scheduled for deletion")
    if body.vpc_id:
        await _network_of(session, user_id, body.vpc_id)
    if body.dead_letter_queue:
        from cumulo.services.queues import service as queues

        try:
            return (await queues.resolve(session, user_id, body.dead_letter_queue)).id
        except NotFound:
            raise InvalidInput(f"dead_letter_queue '{body.dead_letter_queue}' not found") from None
    return None


async def _network_of(session: AsyncSession, user_id: str, vpc_id: str) -> str:
    try:
        return await network.network_name(session, user_id, vpc_id)
    except NotFound:
        raise InvalidInput(f"vpc '{vpc_id}' not found") from None


async def vpc_network(platform: Platform, vpc_id: str, user_id: str) -> str:
    """The Docker network of the user's VPC (the network service decides); 400 when it is not theirs."""
    async with platform.db.session() as session:
        return await _network_of(session, user_id, vpc_id)


async def _prepare_code(platform: Platform, kind: str, handler: str, data: bytes) -> Any:
    settings = platform.settings
    archive = codes.check(data, settings.function_max_zip_bytes, settings.function_max_unzipped_bytes)
    codes.check_handler(kind, handler, codes.files_of(archive))
    return archive


async def create(platform: Platform, session: AsyncSession, user: Principal | str, body: FunctionCreate,
                 data: bytes) -> tuple[Function, FunctionVersion]:
    user_id = _uid(user)
    if await session.scalar(select(Function.id).where(Function.user_id == user_id, Function.name == body.name)):
        raise Conflict(f"a function named '{body.name}' already exists")
    runtime = await runtimes.resolve(platform, docker(platform), body.runtime)
    handler = body.handler or DEFAULT_HANDLERS[runtime.kind]
    archive = await _prepare_code(platform, runtime.kind, handler, data)
    dlq_id = await _check_references(platform, session, user_id, body)
    memory = (body.memory_mb or DEFAULTS["memory_mb"]) * (body.max_concurrency or DEFAULTS["max_concurrency"])
    await quotas.check_many(session, platform, user_id, {"functions": 1, "function_memory_mb": memory})
    fn = Function(user_id=user_id, name=body.name, version=1, status="ACTIVE")
    session.add(fn)
    await flush_or_conflict(session, f"a function named '{body.name}' already exists")
    ver = FunctionVersion(
        function_id=fn.id, version=1, runtime=runtime.name, handler=handler,
        timeout_seconds=body.timeout_seconds or DEFAULTS["timeout_seconds"],
        memory_mb=body.memory_mb or DEFAULTS["memory_mb"],
        max_concurrency=body.max_concurrency or DEFAULTS["max_concurrency"], env=body.env or {},
        env_secrets=body.env_secrets or {}, vpc_id=body.vpc_id, dead_letter_queue_id=dlq_id,
        code_sha256=codes.sha256(data), code_size=len(data))
    session.add(ver)
    await _store(platform, session, fn, ver, archive, "function.created")
    return fn, ver


async def update(platform: Platform, session: AsyncSession, user: Principal | str, ref: str, body: FunctionUpdate,
                 data: bytes | None) -> tuple[Function, FunctionVersion]:
    """A new version with the given changes; calls in flight finish on the old one."""
    user_id = _uid(user)
    fn, old = await get(session, user_id, ref)
    runtime_name = old.runtime
    kind = "python" if old.runtime.startswith("python") else "node"
    if body.runtime:
        runtime = await runtimes.resolve(platform, docker(platform), body.runtime)
        runtime_name, kind = runtime.name, runtime.kind
    handler = body.handler or old.handler
    archive = await _prepare_code(platform, kind, handler, data) if data is not None else None
    if archive is None:
        codes.check_handler(kind, handler, codes.files_in(
            codes.version_dir(platform.settings.data_dir, fn.id, old.version)))
    dlq_id = await _check_references(platform, session, user_id, body)
    fields = body.model_dump(exclude_unset=True)
    grown = ((body.memory_mb or old.memory_mb) * (body.max_concurrency or old.max_concurrency)
             - old.memory_mb * old.max_concurrency)
    await quotas.check(session, platform, user_id, "function_memory_mb", grown)
    ver = FunctionVersion(
        function_id=fn.id, version=fn.version + 1, runtime=runtime_name, handler=handler,
        timeout_seconds=body.timeout_seconds or old.timeout_seconds, memory_mb=body.memory_mb or old.memory_mb,
        max_concurrency=body.max_concurrency or old.max_concurrency,
        env=body.env if body.env is not None else dict(old.env or {}),
        env_secrets=body.env_secrets if body.env_secrets is not None else dict(old.env_secrets or {}),
        vpc_id=body.vpc_id if "vpc_id" in fields else old.vpc_id,
        dead_letter_queue_id=dlq_id if "dead_letter_queue" in fields else old.dead_letter_queue_id,
        code_sha256=codes.sha256(data) if data is not None else old.code_sha256,
        code_size=len(data) if data is not None else old.code_size)
    fn.version = ver.version
    fn.updated_at = utcnow()
    session.add(ver)
    if archive is None:  # same code: share the unpacked tree of the previous version
        src = codes.version_dir(platform.settings.data_dir, fn.id, old.version)
        dst = codes.version_dir(platform.settings.data_dir, fn.id, ver.version)
        await asyncio.to_thread(shutil.copytree, src, dst, symlinks=False, dirs_exist_ok=True)
    await _store(platform, session, fn, ver, archive, "function.updated")
    pool(platform).retire(fn.id, keep_version=ver.version)
    return fn, ver


async def _store(platform: Platform, session: AsyncSession, fn: Function, ver: FunctionVersion, archive: Any,
                 action: str) -> None:
    target = codes.version_dir(platform.settings.data_dir, fn.id, ver.version)
    if archive is not None:
        await asyncio.to_thread(codes.extract, archive, target, platform.settings.function_max_unzipped_bytes)
    events.record(session, user_id=fn.user_id, action=action, resource_type="function", resource_id=fn.id,
                  name=fn.name, version=ver.version, runtime=ver.runtime)
    try:
        await session.commit()
    except BaseException:
        await session.rollback()
        await asyncio.to_thread(shutil.rmtree, target, True)
        raise


async def delete_function(platform: Platform, session: AsyncSession, user: Principal | str, ref: str) -> str:
    fn = await find(session, user, ref)
    for model in (EventSource, Invocation, FunctionVersion):
        await session.execute(delete(model).where(model.function_id == fn.id))
    await session.delete(fn)
    events.record(session, user_id=fn.user_id, action="function.deleted", resource_type="function",
                  resource_id=fn.id, name=fn.name)
    await session.commit()
    pool(platform).retire(fn.id)
    await asyncio.to_thread(codes.remove_function, platform.settings.data_dir, fn.id)
    return fn.id


async def prune_invocations(platform: Platform) -> int:
    """Delete finished invocations older than ``CUMULO_FUNCTION_INVOCATION_RETENTION_SECONDS``."""
    cutoff = utcnow() - dt.timedelta(seconds=platform.settings.function_invocation_retention_seconds)
    async with platform.db.session() as session:
        # an UPDATE/DELETE runs as a CursorResult (execute() is typed as returning any Result)
        result = cast("CursorResult[Any]", await session.execute(delete(Invocation).where(
            Invocation.ended_at.is_not(None), Invocation.ended_at < cutoff)))
        await session.commit()
    return result.rowcount or 0

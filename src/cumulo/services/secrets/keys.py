"""Envelope encryption: each user has a random 32-byte data key, sealed with the master key.

Secret values are sealed with the data key (AES-256-GCM, bound to ``<secret id>:<version>``),
so rotating the master key only re-wraps one small row per user (``rewrap``), never the values.

Rotation without downtime: every wrapped key records the fingerprint of the master key that
sealed it. A process unwraps with whichever key of its *keyring* matches (the current key plus
``CUMULO_MASTER_KEY_PREVIOUS`` / ``<data_dir>/master.key.previous``); on a miss it reloads the
master key once, which picks up a key file replaced by ``cumulo admin rotate-master-key``.
"""

from __future__ import annotations

import hashlib
import secrets as pysecrets
import weakref
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core import crypto
from cumulo.core.clock import utcnow
from cumulo.core.errors import Unavailable
from cumulo.services.secrets.models import DataKey

PREVIOUS_FILE = crypto.PREVIOUS_FILE
previous_keys = crypto.previous_keys
_CACHE = "secrets.data_keys"


def fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"cumulo-master-key:" + key).hexdigest()[:16]


def _aad(user_id: str) -> bytes:
    return f"cumulo-data-key:{user_id}".encode()


def keyring(platform: Any, *, reload: bool = False) -> tuple[bytes, dict[str, bytes]]:
    """(current master key, {fingerprint: key} of every key this process may unwrap with)."""
    if reload:
        platform.extras.pop("master_key", None)
        platform.extras.pop(_CACHE, None)
    current = crypto.master_key(platform)
    ring = {fingerprint(current): current}
    for key in previous_keys(platform.settings):
        ring.setdefault(fingerprint(key), key)
    return current, ring


def _cache(platform: Any) -> dict[str, bytes]:
    return platform.get_or_create(_CACHE, dict)  # type: ignore[no-any-return]


def _unwrap(platform: Any, row: DataKey) -> bytes:
    _current, ring = keyring(platform)
    if row.master_fp not in ring:
        _current, ring = keyring(platform, reload=True)
    if row.master_fp not in ring:
        raise Unavailable("the master key that sealed this data key is not configured "
                          "(was the master key rotated without keeping the previous one?)")
    return crypto.decrypt(ring[row.master_fp], row.wrapped, _aad(row.user_id))


async def data_key(platform: Any, session: AsyncSession, user_id: str) -> bytes:
    """The user's data key, created on first use."""
    cache = _cache(platform)
    if user_id in cache:
        return cache[user_id]
    row = await session.get(DataKey, user_id)
    if row is None:
        current, _ring = keyring(platform)
        raw = pysecrets.token_bytes(crypto.KEY_BYTES)
        try:
            async with session.begin_nested():
                session.add(DataKey(user_id=user_id, wrapped=crypto.encrypt(current, raw, _aad(user_id)),
                                    master_fp=fingerprint(current)))
        except IntegrityError:  # created concurrently by another request: use that one
            row = await session.get(DataKey, user_id, populate_existing=True)
        else:
            cache[user_id] = raw
            return raw
    assert row is not None
    key = _unwrap(platform, row)
    cache[user_id] = key
    return key


def seal(key: bytes, plaintext: str, context: str) -> bytes:
    return crypto.encrypt(key, plaintext.encode(), context.encode())


def unseal(key: bytes, sealed: bytes, context: str) -> str:
    return crypto.decrypt(key, sealed, context.encode()).decode()


async def rewrap(session: AsyncSession, old_keys: list[bytes], new_key: bytes) -> int:
    """Re-seal every data key under ``new_key`` (called by ``cumulo admin rotate-master-key``).
    The caller commits. Returns how many keys were re-wrapped."""
    ring = {fingerprint(k): k for k in old_keys}
    new_fp = fingerprint(new_key)
    count = 0
    for row in (await session.scalars(select(DataKey))).all():
        if row.master_fp == new_fp:
            continue
        if row.master_fp not in ring:
            raise Unavailable(f"data key of user {row.user_id} was sealed by an unknown master key "
                              f"({row.master_fp}); nothing was changed")
        raw = crypto.decrypt(ring[row.master_fp], row.wrapped, _aad(row.user_id))
        row.wrapped = crypto.encrypt(new_key, raw, _aad(row.user_id))
        row.master_fp = new_fp
        row.rewrapped_at = utcnow()
        count += 1
    return count


_PLATFORMS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def remember_platform(platform: Any) -> None:
    """Called at start-up so ``platform_for(session)`` can find the master key of a session's database."""
    _PLATFORMS[platform.db.engine.sync_engine] = platform


def platform_for(session: AsyncSession) -> Any:
    bind = session.bind
    platform = _PLATFORMS.get(getattr(bind, "sync_engine", bind))
    if platform is None:
        raise Unavailable("the secrets service is not started in this process")
    return platform

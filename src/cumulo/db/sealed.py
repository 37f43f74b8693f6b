"""Re-sealing columns encrypted directly under the master key, for ``cumulo admin rotate-master-key``.

A service with such a column adds ``services/<name>/keys.py``::

    async def rewrap(session, old_keys, new_key):
        return await sealed.rewrap(session, Model.secret_sealed, lambda row: row.id.encode(), old_keys, new_key)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cumulo.core import crypto


async def rewrap(session: AsyncSession, column: InstrumentedAttribute[Any], aad: Callable[[Any], bytes],
                 old_keys: list[bytes], new_key: bytes) -> int:
    """Decrypt every non-null value of ``column`` with whichever old key fits, encrypt it with
    ``new_key``; the caller commits. Returns how many values were re-sealed."""
    model = column.class_
    count = 0
    for row in (await session.scalars(select(model).where(column.is_not(None)))).all():
        value = getattr(row, column.key)
        plain = None
        for key in [new_key, *old_keys]:
            try:
                plain = crypto.decrypt(key, value, aad(row))
            except crypto.DecryptionFailed:
                continue
            break
        if plain is None:
            raise crypto.DecryptionFailed(f"{model.__tablename__}.{column.key}: a value fits none of the keys")
        setattr(row, column.key, crypto.encrypt(new_key, plain, aad(row)))
        count += 1
    return count

"""Master-key rotation (``cumulo admin rotate-master-key``), run on the server machine.

Order matters for zero downtime. With the key in ``<data_dir>/master.key``:
1. the old key is appended to ``master.key.previous`` and the new key replaces ``master.key``
   (atomically, mode 0600): a running process that reloads now knows both keys;
2. every service module ``cumulo.services.<name>.keys`` with ``async rewrap(session, old_keys, new_key)``
   re-seals its wrapped keys in one transaction: processes still caching the old key miss the new
   fingerprint and reload the key file once (``keys.keyring(reload=True)``).
With ``CUMULO_MASTER_KEY`` set, only step 2 runs and the operator swaps the variables (printed).
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets as pysecrets
from pathlib import Path

from cumulo import services
from cumulo.core import crypto
from cumulo.core.config import Settings
from cumulo.services.secrets import keys


def _write_private(path: Path, text: str, *, append: bool = False) -> None:
    if append and path.exists():
        text = path.read_text().rstrip("\n") + "\n" + text
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


async def rotate(new_key_text: str | None = None, settings: Settings | None = None) -> str:
    from cumulo.db import migrate
    from cumulo.platform import build_platform

    settings = settings or Settings()
    platform = build_platform(settings)
    await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
    try:
        old = crypto.master_key(platform)
        new = crypto.parse_key(new_key_text) if new_key_text else pysecrets.token_bytes(crypto.KEY_BYTES)
        if new == old:
            raise ValueError("the new master key equals the current one")
        old_keys = [old, *keys.previous_keys(settings)]
        encoded = base64.b64encode(new).decode()
        from_env = bool(settings.master_key)
        if not from_env:
            data_dir = Path(settings.data_dir)
            _write_private(data_dir / keys.PREVIOUS_FILE, base64.b64encode(old).decode(), append=True)
            _write_private(data_dir / crypto.KEY_FILE, encoded)
        counts = []
        async with platform.db.session() as session:
            for name, module in services.modules("keys"):
                rewrap = getattr(module, "rewrap", None)
                if rewrap is not None:
                    counts.append(f"{name}: {await rewrap(session, old_keys, new)} re-wrapped")
            await session.commit()
    finally:
        await platform.db.dispose()
    summary = (f"master key rotated {keys.fingerprint(old)} -> {keys.fingerprint(new)}; "
               + ", ".join(counts or ["nothing to re-wrap"]))
    if from_env:
        summary += ("\nCUMULO_MASTER_KEY is set in the environment: set CUMULO_MASTER_KEY to the new key below and "
                    "CUMULO_MASTER_KEY_PREVIOUS to the old one, then restart the processes.\n"
                    f"new key: {encoded}")
    return summary

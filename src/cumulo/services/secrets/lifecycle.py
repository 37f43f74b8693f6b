"""Start-up of the secrets service: remember the platform (for ``resolve_env``) and check the master key."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.secrets import keys


async def startup(platform: Platform) -> None:
    keys.remember_platform(platform)
    keys.keyring(platform)  # fails start-up early when the key is missing in production or invalid

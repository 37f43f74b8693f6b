"""Start-up in every role: register the routes provider (API processes resolve ``loadbalancer:<id>``
gateway targets; the worker's gateway collects the routes)."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.lb import hooks  # noqa: F401 - registers the provider at import


async def startup(platform: Platform) -> None:
    return None

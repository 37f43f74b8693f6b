"""``cumulo.ports``: the reverse edges of the service graph, filled from every service's hooks.py."""

from __future__ import annotations

import asyncio

import pytest

from cumulo import ports
from cumulo.core.errors import Unavailable


def test_hooks_fill_the_registries_without_being_imported_by_their_users() -> None:
    assert "instance" in ports.resolvers.names() and "instance" in ports.reconfigures.names()
    assert [kind for kind, _ in ports.users.of("image")] == ["instance"]
    from cumulo.services.gateway import providers

    assert "loadbalancer" in [p.name for p in providers.registered()]  # the same discovery
    from cumulo.services.cron import targets
    from cumulo.services.notify import protocols

    assert "function" in targets.kinds() and "function" in protocols.names()  # functions/hooks.py


def test_users_of_names_every_user_and_an_unknown_kind_is_unavailable() -> None:
    async def instances(session: object, user_id: str, key: str) -> list[str]:
        return ["web", "db"] if key == "img-1" else []

    async def jobs(session: object, user_id: str, key: str) -> list[str]:
        return ["nightly"]

    ports.users.add("test-thing", "instance", instances)  # type: ignore[arg-type]
    ports.users.add("test-thing", "job", jobs)  # type: ignore[arg-type]
    found = asyncio.run(ports.users_of("test-thing", None, "u1", "img-1"))  # type: ignore[arg-type]
    assert found == ["instance db", "instance web", "job nightly"]
    with pytest.raises(Unavailable):
        asyncio.run(ports.resolve("no-such-kind", None, "u1", "x"))  # type: ignore[arg-type]

"""Platforms without a server, on a migrated database: the kernel's runtime (signals, outbox,
reconcile) tested on its own, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cumulo.db import migrate
from cumulo.platform import Platform, build_platform
from cumulo.testing.server import test_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'kernel.db'}"
    return str(request.getfixturevalue("new_pg_database"))


@pytest.fixture
async def platforms(database_url: str, tmp_path: Path) -> AsyncIterator[Callable[[], Platform]]:
    """``make()``: a new platform on the test's database (two of them stand for two processes: they
    share nothing but the database). Closed at the end."""
    migrate.upgrade(database_url)
    made: list[Platform] = []

    def make() -> Platform:
        platform = build_platform(test_settings(str(tmp_path / f"p{len(made)}"), database_url))
        made.append(platform)
        return platform

    yield make
    for platform in made:
        await platform.close()

"""``owned``: a user's resource by id, name or unique id prefix; never another user's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cumulo.core.errors import InvalidInput, NotFound
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from tests.runtime.conftest import database_url, platforms  # noqa: F401 - fixtures


class _Base(DeclarativeBase):
    pass


class Thing(_Base):
    __tablename__ = "lookup_things"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(64))


ALICE, BOB = "a" * 8, "b" * 8
ROWS = [("0a1b2c3d-0000-4000-8000-000000000001", ALICE, "web"),
        ("0a1b2c3d-0000-4000-8000-000000000002", ALICE, "db"),
        ("7f00aa11-0000-4000-8000-000000000003", ALICE, "7f00"),  # a name that looks like a prefix
        ("7f00bb22-0000-4000-8000-000000000004", ALICE, "cache"),
        ("5e5e5e5e-0000-4000-8000-000000000005", BOB, "bobs")]


async def _lookup(platform: Platform, user_id: str, ref: str) -> str:
    async with platform.db.session() as session:
        return (await owned(session, Thing, user_id, ref, "thing")).name


async def test_an_id_prefix_finds_the_one_row_it_names(platforms: Callable[[], Platform]) -> None:  # noqa: F811
    platform = platforms()
    async with platform.db.engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    async with platform.db.session() as session:
        session.add_all(Thing(id=i, user_id=u, name=n) for i, u, n in ROWS)
        await session.commit()
    assert await _lookup(platform, ALICE, "0a1b2c3d-0000-4000-8000-000000000002") == "db"  # a full id
    assert await _lookup(platform, ALICE, "web") == "web"  # a name
    assert await _lookup(platform, ALICE, "7f00b") == "cache"  # a unique prefix
    assert await _lookup(platform, ALICE, "7f00") == "7f00"  # a name wins over a prefix
    with pytest.raises(InvalidInput, match="matches several") as info:
        await _lookup(platform, ALICE, "0a1b2c3d-0000-4000-8000-0000000000")
    assert "0a1b2c3d-0000-4000-8000-000000000001" in str(info.value)
    with pytest.raises(NotFound):
        await _lookup(platform, ALICE, "5e5e")  # Bob's id: like a missing one
    with pytest.raises(NotFound):
        await _lookup(platform, ALICE, "7f0")  # shorter than MIN_PREFIX
    with pytest.raises(NotFound):
        await _lookup(platform, ALICE, "7f%")  # no wildcard reaches LIKE
    assert await _lookup(platform, BOB, "5e5e") == "bobs"

"""The same life on PostgreSQL (the deploy lock is a row update, config vars are bytea, releases
count per app): push a static site, change config, roll back, delete (a fake proxy: the routing is
covered on SQLite with a real Caddy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cumulo.client import ApiError
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.apps.conftest import new_repo

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]


def test_apps_on_postgresql(make_server: Callable[..., LiveServer], new_pg_database: str, tmp_path: Path) -> None:
    live = make_server(database_url=new_pg_database, proxy_driver="fake", apps_drain_seconds=0.2)
    with register_and_login(live) as owner, register_and_login(live) as other:
        app = owner.apps.create("pgsite", env_vars={"A": "1"})
        repo = new_repo(tmp_path / "repo", owner, app, {"index.html": "<p>pg v1</p>\n"})
        push = repo.push()
        assert push.returncode == 0, push.stderr
        assert owner.apps.get("pgsite")["release"] == 1
        with pytest.raises(ApiError) as err:
            other.apps.get(app["id"])
        assert err.value.status == 404
        assert owner.apps.set_config("pgsite", {"B": "2"}) == {"A": "1", "B": "2"}
        assert owner.apps.rollback("pgsite", 1)["description"] == "Rollback to v1"
        assert owner.apps.config("pgsite") == {"A": "1"}
        assert [r["version"] for r in owner.apps.releases("pgsite")] == [3, 2, 1]
        assert [r["current"] for r in owner.apps.releases("pgsite")] == [True, False, False]
        owner.apps.delete("pgsite")
        assert owner.apps.list() == []

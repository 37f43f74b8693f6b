"""`cumulo routes` as a user types it, against a live server."""

from __future__ import annotations

import json
from pathlib import Path

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.cli.conftest import _runner


def test_routes_create_list_show_delete(tmp_path: Path, server_sqlite: LiveServer, sqlite_user: Client) -> None:
    cli = _runner(tmp_path, server_sqlite, sqlite_user.api_key or "")

    def js(*args: str):  # type: ignore[no-untyped-def]
        return json.loads(cli("--json", *args).output)

    made = js("routes", "create", "docs", "--target", "http://93.184.216.34/base", "--prefix", "/docs",
              "--strip-prefix", "-m", "get", "--rate-limit", "5")
    assert made["name"] == "docs" and made["prefix"] == "/docs" and made["methods"] == ["GET"]
    assert made["strip_prefix"] and made["rate_limit"] == 5 and made["url"].endswith("/docs")
    assert [r["id"] for r in js("routes", "list")] == [made["id"]]
    assert js("routes", "show", "docs")["target"] == "http://93.184.216.34/base"
    table = cli("routes", "list").output
    assert "docs" in table
    bad = cli("routes", "create", "evil", "--target", "http://169.254.169.254/", ok=False)
    assert bad.exit_code != 0 and "refused" in bad.output
    assert js("routes", "delete", "docs", "--yes") == {"deleted": "docs"}
    assert js("routes", "list") == []
    missing = cli("routes", "show", "docs", ok=False)
    assert missing.exit_code != 0 and "not found" in missing.output

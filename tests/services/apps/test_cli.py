"""`cumulo apps` as a user types it, against the apps test server (no build: the CLI's own paths)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.cli.conftest import _runner

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]


def test_apps_cli(tmp_path: Path, apps_server: LiveServer, owner: Client) -> None:
    cli = _runner(tmp_path, apps_server, owner.api_key or "")

    def js(*args: str):  # type: ignore[no-untyped-def]
        return json.loads(cli("--json", *args).output)

    made = js("apps", "create", "clitool", "-e", "A=1", "--branch", "trunk")
    assert made["name"] == "clitool" and made["branch"] == "trunk" and made["git_remote"].endswith("/clitool.git")
    assert "clitool" in cli("apps", "list").output
    line = cli("apps", "git-remote", "clitool").output.splitlines()[0]
    assert line == f"git remote add cumulo {made['git_remote']}"
    assert js("apps", "config", "set", "clitool", "B=two") == {"A": "1", "B": "two"}
    assert js("apps", "config", "unset", "clitool", "A") == {"B": "two"}
    assert js("apps", "config", "show", "clitool") == {"B": "two"}
    assert js("apps", "status", "clitool")["status"] == "pending"
    assert js("apps", "releases", "clitool") == []
    assert js("apps", "domains", "add", "clitool", "cli.example.test") == ["cli.example.test"]
    assert js("apps", "domains", "list", "clitool") == ["cli.example.test"]
    bad = cli("apps", "create", "Bad_Name", ok=False)
    assert bad.exit_code != 0 and "name" in bad.output
    nothing = cli("apps", "rollback", "clitool", ok=False)
    assert nothing.exit_code != 0 and "no release" in nothing.output
    assert js("apps", "delete", "clitool", "--yes") == {"deleted": "clitool"}
    missing = cli("apps", "status", "clitool", ok=False)
    assert missing.exit_code != 0 and "not found" in missing.output

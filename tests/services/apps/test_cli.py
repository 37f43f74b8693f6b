"""`cumulo apps` as a user types it, against the apps test server (no build: the CLI's own paths)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.cli.conftest import _runner
from tests.services.apps.conftest import serves

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


def test_apps_upload_deploys_a_directory_without_git(tmp_path: Path, apps_server: LiveServer, owner: Client) -> None:
    cli = _runner(tmp_path, apps_server, owner.api_key or "")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>uploaded ok</p>\n")
    owner.apps.create("upl")
    result = cli("apps", "upload", "upl", str(site))
    assert "static app detected" in result.output and "v1 is live" in result.output
    serves(apps_server, owner.apps.get("upl")["subdomain"], "uploaded ok")
    release = owner.apps.releases("upl")[0]
    assert release["version"] == 1 and len(release["git_rev"]) == 40
    (site / "index.html").unlink()
    (site / "nothing.txt").write_text("?\n")
    failed = cli("apps", "upload", "upl", str(site), ok=False)
    assert failed.exit_code != 0 and "cannot tell what this app is" in failed.output
    assert "uploaded ok" in serves(apps_server, owner.apps.get("upl")["subdomain"], "uploaded ok").text
    stranger_status = httpx.put(f"{apps_server.url}/apps/upl/source", content=b"x",
                                headers={"X-API-Key": "cml_wrong"}).status_code
    assert stranger_status == 401
    owner.apps.delete("upl")

"""`cumulo apps` as a user types it, against the apps test server (no build: the CLI's own paths)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cumulo.client import Client
from cumulo.client.transport import ApiError
from cumulo.testing.server import LiveServer
from tests.cli.conftest import _runner
from tests.services.apps.conftest import serves, through_caddy, zip_of

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


def _status(call: Callable[[], object]) -> int:
    with pytest.raises(ApiError) as err:
        call()
    return err.value.status


def test_apps_upload_deploys_a_directory_or_an_archive_without_git(
        tmp_path: Path, apps_server: LiveServer, owner: Client, stranger: Client) -> None:
    cli = _runner(tmp_path, apps_server, owner.api_key or "")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>uploaded ok</p>\n")
    owner.apps.create("upl")
    result = cli("apps", "upload", "upl", str(site))
    assert "static app detected" in result.output and "v1 is live" in result.output
    hostname = owner.apps.get("upl")["subdomain"]
    serves(apps_server, hostname, "uploaded ok")
    release = owner.apps.releases("upl")[0]
    assert release["version"] == 1 and len(release["git_rev"]) == 40
    (site / "index.html").unlink()
    (site / "nothing.txt").write_text("?\n")
    failed = cli("apps", "upload", "upl", str(site), ok=False)
    assert failed.exit_code != 0 and "cannot tell what this app is" in failed.output
    assert "uploaded ok" in serves(apps_server, hostname, "uploaded ok").text

    # refused before anything is built: 400 with the reason, no build recorded, v1 still serving
    builds = len(owner.apps.builds("upl"))
    for bad, reason in ((zip_of({"../evil.html": b"x"}), "unsafe path"),
                        (zip_of({"index.html": b"x"}, {"leak": "/etc/passwd"}), "points outside"),
                        (zip_of({f"z{i}": b"\0" * (1024 * 1024 - 1) for i in range(8)}), "unpacks to more than"),
                        (zip_of({"big.bin": os.urandom(1536 * 1024)}), "CUMULO_APPS_MAX_FILE_MB"),
                        (b"PK\x03\x04 truncated", "cannot be read"), (b"plain text", ".zip"), (b"", ".zip")):
        with pytest.raises(ApiError) as err:
            list(owner.apps.upload("upl", bad))
        assert err.value.status == 400 and reason in err.value.message, (reason, err.value.message)
    assert len(owner.apps.builds("upl")) == builds
    assert _status(lambda: list(stranger.apps.upload("upl", zip_of({"index.html": b"x"})))) == 404
    assert httpx.post(f"{apps_server.url}/apps/upl/source", content=b"x",
                      headers={"X-API-Key": "cml_wrong"}).status_code == 401

    # a zip through the CLI (POST /apps/{app}/source), then its access lines through a log follow
    archive = tmp_path / "site.zip"
    archive.write_bytes(zip_of({"index.html": b"<p>zipped ok</p>\n", "about/index.html": b"about\n"}))
    assert "v2 is live" in cli("apps", "upload", "upl", str(archive)).output
    serves(apps_server, hostname, "zipped ok")
    lines = owner.apps.follow_logs("upl", tail=1, timeout=60)  # no line in 60 s fails the test
    assert next(lines)  # the tail: at least the request serves() made
    marker = f"/probe-{os.getpid()}"
    assert through_caddy(apps_server, hostname, marker).status_code == 404
    assert any(marker in line for line in itertools.islice(lines, 50)), "the new request's line came through"
    lines.close()
    assert owner.apps.logs("upl", 5) and _status(lambda: next(stranger.apps.follow_logs("upl"))) == 404
    owner.apps.delete("upl")

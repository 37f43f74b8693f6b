"""The CLI against a live server: register, login (key saved 0600), whoami, keys, events, logout."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cumulo.cli.main import app
from cumulo.testing.server import free_port
from tests.conftest import PASSWORD, new_email


def test_register_login_whoami_keys_logout(cli) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    assert "registration received" in cli("register", "--email", email, "--name", "Cli User", "--password", PASSWORD).output
    out = cli("login", "--email", email, "--password", PASSWORD).output
    assert "Logged in as" in out
    mode = stat.S_IMODE(os.stat(cli.config).st_mode)
    assert mode == 0o600 and json.loads(cli.config.read_text())["api_key"].startswith("cml_")
    assert email in cli("whoami").output
    created = json.loads(cli("--json", "keys", "create", "deploy").output)
    assert created["key"].startswith("cml_")
    listed = json.loads(cli("--json", "keys", "list").output)
    assert created["id"] in [k["id"] for k in listed] and all("key" not in k for k in listed)
    rotated = json.loads(cli("--json", "keys", "rotate", created["id"]).output)
    assert rotated["id"] != created["id"]
    assert "revoked" in cli("keys", "revoke", rotated["id"], "--yes").output
    events = json.loads(cli("--json", "events", "-n", "5").output)
    assert events[0]["action"] == "apikey.revoked"
    assert "Logged out" in cli("logout").output
    denied = cli("whoami", ok=False)
    assert denied.exit_code == 1 and "Not logged in" in denied.output and "cumulo login" in denied.output
    denied = cli("--api-key", "cml_not-a-key", "whoami", ok=False)
    assert denied.exit_code == 1 and "401" in denied.output and "cumulo login" in denied.output


def test_wrong_password_is_a_clear_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("login", "--email", new_email(), "--password", "Wrong-pass1", ok=False)
    assert result.exit_code == 1 and "invalid email or password" in result.output


def test_server_down_is_a_clear_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("--url", f"http://127.0.0.1:{free_port()}", "health", ok=False)
    assert result.exit_code == 2 and "cumulo up" in result.output


@pytest.mark.docker  # every check CONNECTED, Docker's too
def test_health_command(cli) -> None:  # type: ignore[no-untyped-def]
    assert "CONNECTED" in cli("health").output


def test_admin_create_user_makes_an_admin(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    env = {"CUMULO_DATA_DIR": str(data)}
    email = new_email()
    result = runner.invoke(app, ["admin", "create-user", "--email", email, "--name", "Root", "--password", PASSWORD,
                                 "--admin"], env=env)
    assert result.exit_code == 0, result.output
    assert "(admin)" in result.output
    again = runner.invoke(app, ["admin", "create-user", "--email", email, "--name", "Root", "--password", PASSWORD],
                          env=env)
    assert again.exit_code == 1 and "already exists" in again.output
    weak = runner.invoke(app, ["admin", "create-user", "--email", new_email(), "--name", "W", "--password", "weak"],
                         env=env)
    assert weak.exit_code == 1 and "password" in weak.output

"""The ``cli`` fixture: run ``cumulo`` commands in-process against the live server, with a private
config dir (so ``login`` stores its key there). ``sqlite_cli``: the same against the SQLite-only
server, logged in as ``sqlite_user`` (for Docker-heavy commands)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cumulo.cli.main import app
from cumulo.client import Client
from cumulo.testing.server import LiveServer


def _runner(tmp_path: Path, live: LiveServer, api_key: str = ""):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": live.url, "CUMULO_API_KEY": api_key}

    def run(*args: str, ok: bool = True, input: str | None = None):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env, input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.config = tmp_path / "cumulo" / "credentials.json"  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    return run


@pytest.fixture
def cli(tmp_path: Path, server: LiveServer):  # type: ignore[no-untyped-def]
    return _runner(tmp_path, server)


@pytest.fixture
def sqlite_cli(tmp_path: Path, server_sqlite: LiveServer, sqlite_user: Client):  # type: ignore[no-untyped-def]
    return _runner(tmp_path, server_sqlite, sqlite_user.api_key or "")

"""The ``cli`` fixture: run ``cumulo`` commands in-process against the live server, with a private
config dir (so ``login`` stores its key there)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cumulo.cli.main import app
from cumulo.testing.server import LiveServer


@pytest.fixture
def cli(tmp_path: Path, server: LiveServer):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": server.url, "CUMULO_API_KEY": ""}

    def run(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.config = tmp_path / "cumulo" / "credentials.json"  # type: ignore[attr-defined]
    return run

"""The CLI against a live server: deploy a folder, invoke, logs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cumulo.cli.main import app
from cumulo.client import Client

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def test_deploy_invoke_logs(server_sqlite, sqlite_user: Client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / f"cli-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "app.py").write_text("def run(event, context):\n    print('cli log line')\n    return {'n': event['n'] + 1}\n")
    (folder / "lib").mkdir()
    (folder / "lib" / "helper.py").write_text("X = 1\n")
    base = ["--url", server_sqlite.url, "--api-key", sqlite_user.api_key]
    runner = CliRunner()
    deployed = runner.invoke(app, [*base, "--json", "functions", "deploy", str(folder), "--runtime", "python",
                                   "--handler", "app.run", "--env", "MODE=test"])
    assert deployed.exit_code == 0, deployed.output
    fn = json.loads(deployed.stdout)
    assert fn["name"] == folder.name and fn["env"] == {"MODE": "test"} and fn["version"] == 1

    invoked = runner.invoke(app, [*base, "functions", "invoke", folder.name, '{"n": 41}'])
    assert invoked.exit_code == 0, invoked.output
    assert json.loads(invoked.stdout) == {"n": 42}

    again = runner.invoke(app, [*base, "--json", "functions", "deploy", str(folder), "--runtime", "python"])
    assert again.exit_code == 0 and json.loads(again.stdout)["version"] == 2

    logs = runner.invoke(app, [*base, "functions", "logs", folder.name])
    assert logs.exit_code == 0 and "cli log line" in logs.stdout and "SUCCESS" in logs.stdout

    secret = runner.invoke(app, [*base, "secrets", "create", f"cli-{uuid.uuid4().hex[:6]}"], input="from-stdin\n")
    assert secret.exit_code == 0, secret.output

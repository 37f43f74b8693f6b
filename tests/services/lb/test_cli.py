"""``cumulo lb ...`` in-process against the load balancer test server (JSON and table output)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cumulo.cli import output
from cumulo.cli.main import app
from cumulo.client import Client
from cumulo.testing.server import LiveServer


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_lb_commands(tmp_path: Path, lb_server: LiveServer, lb_user: Client,
                     web: Callable[[str], dict[str, Any]]) -> None:
    inst = web("cli-a")
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": lb_server.url, "CUMULO_API_KEY": lb_user.api_key or ""}
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        output.STATE["json"] = False
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    created = json.loads(run("lb", "create", "clilb", "-t", f"{inst['name']}:8000:2", "--interval", "5",
                             "--timeout", "2", "--matcher", "200", "--sticky", "pin", "--json"))
    assert created["name"] == "clilb" and created["url"] and created["sticky"] == {"cookie_name": "pin"}
    assert created["health_check"]["interval_seconds"] == 5 and created["targets"][0]["weight"] == 2
    assert [x["name"] for x in json.loads(run("lb", "list", "--json"))] == ["clilb"]
    assert "clilb" in run("lb", "list") and "cli-a" not in run("lb", "show", "clilb")  # table: ids, not names
    shown = json.loads(run("lb", "show", "clilb", "--json"))
    assert shown["targets"][0]["instance_id"] == inst["id"]
    added = json.loads(run("lb", "targets", "add", "clilb", f"{inst['id']}:8001", "--json"))
    assert sorted(t["port"] for t in added["targets"]) == [8000, 8001]
    removed = json.loads(run("lb", "targets", "remove", "clilb", f"{inst['name']}:8001", "--json"))
    assert {t["port"]: t["health"] for t in removed["targets"]}[8001] == "draining"
    assert json.loads(run("lb", "metrics", "clilb", "--json"))["load_balancer_id"] == created["id"]
    assert "error 400" in run("lb", "create", "bad", "--algorithm", "nope", code=1)
    assert "error 404" in run("lb", "show", "missing", code=1)
    assert "target" in run("lb", "targets", "add", "clilb", "no-port", code=2)
    assert "--yes" in run("lb", "delete", "clilb", code=1)  # asks first; no answer is a no
    assert json.loads(run("lb", "delete", "clilb", "--json", "--yes")) == {"deleted": "clilb"}
    assert json.loads(run("lb", "list", "--json")) == []

"""``cumulo deployments ...`` and ``cumulo autoscaling ...`` in-process against the deployments test server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cumulo.cli import output
from cumulo.cli.main import app
from cumulo.client import Client
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer
from tests.services.deployments.conftest import containers

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments")]


def test_deployment_and_autoscaling_commands(tmp_path: Path, dep_server: LiveServer, owner: Client) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": dep_server.url, "CUMULO_API_KEY": owner.api_key or ""}
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        output.STATE["json"] = False
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    out = run("deployments", "create", "clidep", "--image", "cumulo/busybox", "--replicas", "2",
              "--command", "sh", "--command", "-c", "--command", "echo hello; exec sleep 600",
              "--health-cmd", "true", "--interval", "1", "--timeout", "1", "--memory", "32")
    assert "2/2 ready" in out and "RUNNING" in out
    shown = json.loads(run("deployments", "show", "clidep", "--json"))
    assert shown["ready_replicas"] == 2 and len(containers(shown["id"])) == 2
    assert [d["name"] for d in json.loads(run("deployments", "list", "--json"))] == ["clidep"]
    merged = run("deployments", "logs", "clidep").splitlines()  # both replicas, each line with its name
    assert len(merged) == 2 and all(re.match(r"^clidep-1-\w+ \| hello$", line) for line in merged)
    names = {line.split(" ")[0] for line in merged}
    assert names == {m["name"] for m in shown["members"]}
    one = min(names)
    assert run("deployments", "logs", "clidep", "--replica", one).splitlines() == [f"{one} | hello"]
    timed = run("deployments", "logs", "clidep", "--timestamps").splitlines()
    assert len(timed) == 2 and all(re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z clidep-1-\w+ \| hello$", t) for t in timed)
    assert "PATH:SIZE_GB" in run("deployments", "create", "v", "--image", "cumulo/busybox", "--volume", "/d:big",
                                 code=2)
    updated = run("deployments", "update", "clidep", "--env", "COLOR=blue")
    assert "revision 2, 2/2 ready" in updated
    assert json.loads(run("deployments", "revisions", "clidep", "--json"))[0]["status"] == "complete"
    rolled = json.loads(run("deployments", "rollback", "clidep", "--json"))
    assert rolled["revision"] == 1
    assert "0/0 ready" in run("deployments", "scale", "clidep", "0")
    assert "error 404" in run("deployments", "show", "missing", code=1)
    assert "error 400" in run("deployments", "create", "Bad", "--image", "cumulo/busybox", code=1)
    run("deployments", "delete", "clidep", "--yes")
    eventually(lambda: json.loads(run("deployments", "list", "--json")) == [], 60, interval=0.3)

    group = json.loads(run("autoscaling", "create", "cliasg", "--image", "cumulo/busybox", "--command", "sleep",
                           "--command", "600", "--memory", "32", "--min", "0", "--max", "2", "--desired", "1",
                           "--policy", "cpu_percent=50", "--json"))
    assert group["policies"][0]["metric"] == "cpu_percent" and group["desired_capacity"] == 1
    assert json.loads(run("autoscaling", "set-desired", "cliasg", "2", "--json"))["desired_capacity"] == 2
    assert "error 400" in run("autoscaling", "set-desired", "cliasg", "3", code=1)
    assert "cliasg" in run("autoscaling", "list")
    acts = json.loads(run("autoscaling", "activities", "cliasg", "--json"))
    assert acts[0]["cause"] == "a user set the desired capacity"
    assert "policy" in run("autoscaling", "create", "x", "--image", "i", "--max", "1", "--policy", "cpu", code=2)
    run("autoscaling", "delete", "cliasg", "--yes")
    eventually(lambda: json.loads(run("autoscaling", "list", "--json")) == [], 60, interval=0.3)

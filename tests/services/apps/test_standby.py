"""The standby process (``CUMULO_APPS_STANDBY``): after a release goes live one more process of the
app waits on its runtime image; a push that changes only code runs on it (its files put in, the
release's command and environment given to it) instead of a new container; a config change does
not use it (the config is part of what must match) and gets a standby of its own; stopping the app
removes it, deleting the app leaves nothing; one that ended (killed, a host reboot) is removed by the
reconciler and the next push starts a container as usual."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from cumulo.client import Client
from cumulo.testing import eventually
from cumulo.testing.engine import containers as find_containers
from cumulo.testing.server import LiveServer
from tests.services.apps.conftest import Repo, http_app, new_repo, serves

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]

def source(version: str) -> str:
    return http_app(f"f'code {version} greeting={{env.get(\"GREETING\", \"none\")}} release={{env.get(\"RELEASE\")}} '"
                    " f'rev={env.get(\"GIT_REV\")} port={env.get(\"PORT\")} name={env.get(\"APP_NAME\")}'")


def app_containers(app: dict[str, Any]) -> list[Any]:
    engine = docker.from_env()
    try:
        return find_containers(engine, all=True, label=f"cumulo.resource={app['id']}")
    finally:
        engine.close()


def standbys(app: dict[str, Any], releases: set[str]) -> list[Any]:
    """The app's waiting standby processes (not taken by one of ``releases``)."""
    return [c for c in app_containers(app) if "cumulo.app-standby" in c.labels
            and c.labels.get("cumulo.app-release") not in releases and c.status == "running"]


@pytest.fixture(scope="module")
def pushed(owner: Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = owner.apps.create("spare")
    repo = new_repo(tmp_path_factory.mktemp("spare"), owner, app, {"app.py": source("1")})
    push = repo.push()
    assert push.returncode == 0, push.stderr
    return {"app": app, "repo": repo, "push": push}


def release_ids(owner: Client) -> set[str]:
    return {r["id"] for r in owner.apps.releases("spare")}


def test_a_live_release_gets_a_standby_process(apps_server: LiveServer, owner: Client,
                                               pushed: dict[str, Any]) -> None:
    app = pushed["app"]
    assert "on the standby process" not in pushed["push"].stderr  # nothing to take on a first push
    serves(apps_server, app["subdomain"], "code 1 greeting=none release=v1")
    spare = eventually(lambda: standbys(app, release_ids(owner)), timeout=30, interval=0.3,
                       what="a standby process")
    assert len(spare) == 1
    # it waits: no HTTP server on it yet, and its environment has no release of its own
    assert "RELEASE=" not in " ".join(spare[0].attrs["Config"]["Env"])


def test_a_config_change_does_not_take_the_standby_and_gets_its_own(apps_server: LiveServer, owner: Client,
                                                                     pushed: dict[str, Any]) -> None:
    app = pushed["app"]
    before = {c.id for c in standbys(app, release_ids(owner))}
    owner.apps.set_config("spare", {"GREETING": "hello"})
    serves(apps_server, app["subdomain"], "code 1 greeting=hello release=v2")
    # the old standby (without the config) is replaced by one that has it
    spare = eventually(lambda: (s := standbys(app, release_ids(owner))) and not {c.id for c in s} & before and s,
                       timeout=30, interval=0.3, what="a new standby process")
    assert len(spare) == 1


def test_a_code_only_push_runs_on_the_standby(apps_server: LiveServer, owner: Client,
                                              pushed: dict[str, Any]) -> None:
    app, repo = pushed["app"], pushed["repo"]
    assert isinstance(repo, Repo)
    eventually(lambda: standbys(app, release_ids(owner)), timeout=30, interval=0.3, what="a standby process")
    waiting = standbys(app, release_ids(owner))[0]
    repo.commit({"app.py": source("3")}, "code only")
    rev = repo.git("rev-parse", "HEAD").stdout.strip()
    push = repo.push()
    assert push.returncode == 0, push.stderr
    assert "(web 1/1, on the standby process)" in push.stderr
    body = serves(apps_server, app["subdomain"], "code 3").text
    # the release's own environment reached it, with the config and the app's fixed variables
    assert body == f"code 3 greeting=hello release=v3 rev={rev} port=5000 name=spare"
    current = next(r for r in owner.apps.releases("spare") if r["current"])
    assert current["version"] == 3
    # the standby is now the release's process; the previous release's process is gone after the drain,
    # and a new standby waits for the next push
    taken = [c for c in app_containers(app) if c.labels.get("cumulo.app-release") == current["id"]]
    assert [c.id for c in taken] == [waiting.id]
    eventually(lambda: len([c for c in app_containers(app) if c.status == "running"]) == 2
               and len(standbys(app, release_ids(owner))) == 1, timeout=30, interval=0.3,
               what="the release's process and one standby, nothing else")


def test_a_standby_that_ended_is_removed_and_the_next_push_starts_as_usual(apps_server: LiveServer, owner: Client,
                                                                           pushed: dict[str, Any]) -> None:
    app, repo = pushed["app"], pushed["repo"]
    spare = eventually(lambda: standbys(app, release_ids(owner)), timeout=30, interval=0.3, what="a standby")[0]
    spare.kill()  # as a host reboot or the OOM killer would end it
    eventually(lambda: spare.id not in {c.id for c in app_containers(app)}, timeout=30, interval=0.3,
               what="the ended standby removed by the reconciler")
    repo.commit({"app.py": source("4")}, "code only again")
    push = repo.push()
    assert push.returncode == 0, push.stderr
    assert "(web 1/1)" in push.stderr and "standby" not in push.stderr
    serves(apps_server, app["subdomain"], "code 4 greeting=hello release=v4")
    eventually(lambda: standbys(app, release_ids(owner)), timeout=30, interval=0.3, what="a new standby")


def test_stopping_removes_the_standby_and_deleting_leaves_nothing(apps_server: LiveServer, owner: Client,
                                                                  pushed: dict[str, Any], tmp_path: Path) -> None:
    app = pushed["app"]
    eventually(lambda: standbys(app, release_ids(owner)), timeout=30, interval=0.3, what="a standby process")
    before = {c.id for c in app_containers(app)}
    owner.apps.restart("spare")  # the same release again: new processes, the old ones drained (standby too)
    eventually(lambda: len(running := [c for c in app_containers(app) if c.status == "running"]) == 2
               and not {c.id for c in running} & before, timeout=30, interval=0.3,
               what="one new process and one new standby after a restart, the old ones gone")
    owner.apps.stop("spare")
    eventually(lambda: not app_containers(app), timeout=30, interval=0.3, what="no container left after a stop")
    owner.apps.start("spare")
    serves(apps_server, app["subdomain"], "code 4 greeting=hello")
    eventually(lambda: standbys(app, release_ids(owner)), timeout=30, interval=0.3, what="a standby again")
    owner.apps.delete(app["id"])
    eventually(lambda: not app_containers(app), timeout=30, interval=0.3, what="no container left after a delete")

"""A Flask app's life through the real git client: push -> build -> served at its subdomain through
Caddy; a code-only push reuses the dependency layer; broken pushes are rejected and the previous
release keeps serving; config vars make a new release (sealed: not in Docker's container config);
rollback serves the old code; wrong keys and other users are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing.engine import containers as find_containers
from cumulo.testing.server import LiveServer
from tests.services.apps.conftest import Repo, new_repo, serves, through_caddy

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]

APP = """import os
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return f"flask {VERSION} greeting={os.environ.get('GREETING', 'none')} rev={os.environ.get('GIT_REV', '')}"
"""


def source(version: str) -> str:
    return APP.replace("{VERSION}", version)


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def flask_app(owner: Client, tmp_path_factory: pytest.TempPathFactory, state: dict[str, Any]) -> dict[str, Any]:
    app = owner.apps.create("web")
    repo = new_repo(tmp_path_factory.mktemp("flask"), owner, app,
                    {"app.py": source("v1"), "requirements.txt": "flask>=2\n"})
    state["repo"] = repo
    state["push1"] = repo.push()
    state["rev1"] = repo.git("rev-parse", "HEAD").stdout.strip()
    return app


def test_push_builds_and_serves_on_the_subdomain(apps_server: LiveServer, owner: Client,
                                                 flask_app: dict[str, Any], state: dict[str, Any]) -> None:
    push = state["push1"]
    assert push.returncode == 0, push.stderr
    assert "remote: -----> python app detected (flask)" in push.stderr
    assert "remote: -----> v1 is live" in push.stderr
    body = serves(apps_server, flask_app["subdomain"], "flask v1").text
    assert f"rev={state['rev1']}" in body  # GIT_REV reaches the app
    info = owner.apps.get("web")
    assert (info["status"], info["app_type"], info["release"]) == ("running", "python", 1)
    assert info["url"].startswith(f"http://{flask_app['subdomain']}")
    assert flask_app["git_remote"].endswith("/git/web.git")


def test_code_only_push_reuses_the_dependency_layer(apps_server: LiveServer, owner: Client,
                                                    flask_app: dict[str, Any], state: dict[str, Any]) -> None:
    repo: Repo = state["repo"]
    repo.commit({"app.py": source("v2")}, "code only")
    push = repo.push()
    assert push.returncode == 0, push.stderr
    serves(apps_server, flask_app["subdomain"], "flask v2")
    log = owner.apps.build_log("web", 2)
    assert "dependencies unchanged: reusing the cached install" in log
    # the runtime image (base, dependencies, command) is reused whole: no engine build at all, the
    # app's files go into the new release's containers
    assert "dependency image unchanged: reusing it" in log
    assert "COPY deps/" not in log and "Step " not in log and "no image build" in log, log[-1500:]
    assert "COPY deps/" in owner.apps.build_log("web", 1)
    # both releases run on the same image; each has its own files, kept by Cumulo
    engine = docker.from_env()
    try:
        first, second = (engine.images.get(f"cumulo-app/{flask_app['id']}:b{n}").id for n in (1, 2))
    finally:
        engine.close()
    assert first == second
    slugs = apps_server.settings.data_dir / "apps" / "slugs" / flask_app["id"]
    assert len(list(slugs.glob("*.tar"))) == 2
    assert [r["version"] for r in owner.apps.releases("web")] == [2, 1]


def test_a_build_failure_rejects_the_push_and_keeps_the_release(apps_server: LiveServer, owner: Client,
                                                                flask_app: dict[str, Any],
                                                                state: dict[str, Any]) -> None:
    repo: Repo = state["repo"]
    before = repo.git("ls-remote", repo.remote, "refs/heads/main").stdout.split()[0]
    repo.commit({"requirements.txt": "flask>=2\n-e .\n"}, "bad requirements")
    push = repo.push()
    assert push.returncode != 0
    assert "requirements.txt line 2: options (-e) are not allowed" in push.stderr
    assert "pre-receive hook declined" in push.stderr
    assert repo.git("ls-remote", repo.remote, "refs/heads/main").stdout.split()[0] == before
    assert "flask v2" in through_caddy(apps_server, flask_app["subdomain"]).text
    info = owner.apps.get("web")
    assert info["status"] == "running" and info["release"] == 2 and "failed" in info["error"]
    repo.git("reset", "-q", "--hard", "HEAD~1")


def test_a_release_that_fails_its_health_check_is_never_switched_to(apps_server: LiveServer, owner: Client,
                                                                    flask_app: dict[str, Any],
                                                                    state: dict[str, Any]) -> None:
    repo: Repo = state["repo"]
    repo.commit({"app.py": source("v3") + "\nimport not_a_module_anywhere\n"}, "crashes")
    push = repo.push()
    assert push.returncode != 0
    assert "exited" in push.stderr and "before it was healthy" in push.stderr
    assert "not_a_module_anywhere" in push.stderr  # the app's own output says why
    assert "flask v2" in through_caddy(apps_server, flask_app["subdomain"]).text
    versions = {r["version"]: r for r in owner.apps.releases("web")}
    assert versions[3]["status"] == "failed" and owner.apps.get("web")["release"] == 2
    repo.git("reset", "-q", "--hard", "HEAD~1")


def test_config_vars_make_a_sealed_release(apps_server: LiveServer, owner: Client, flask_app: dict[str, Any]) -> None:
    assert owner.apps.set_config("web", {"GREETING": "hello-there"}) == {"GREETING": "hello-there"}
    serves(apps_server, flask_app["subdomain"], "greeting=hello-there")
    info = owner.apps.get("web")
    assert info["release"] == 4
    assert owner.apps.releases("web")[0]["description"] == "Set GREETING"
    engine = docker.from_env()
    try:
        running = find_containers(engine, label=f"cumulo.resource={flask_app['id']}")
        assert running
        for container in running:
            assert not any("hello-there" in e for e in container.attrs["Config"]["Env"] or [])
    finally:
        engine.close()
    assert owner.apps.config("web") == {"GREETING": "hello-there"}


def test_rollback_serves_the_old_code_without_a_rebuild(apps_server: LiveServer, owner: Client,
                                                        flask_app: dict[str, Any]) -> None:
    builds = len(owner.apps.builds("web"))
    release = owner.apps.rollback("web", 1)
    assert release["version"] == 5 and release["description"] == "Rollback to v1"
    body = serves(apps_server, flask_app["subdomain"], "flask v1").text
    assert "greeting=none" in body  # v1's config came back with its code
    assert len(owner.apps.builds("web")) == builds
    with pytest.raises(ApiError) as err:
        owner.apps.rollback("web", 99)
    assert err.value.status == 404


def test_stop_and_start(apps_server: LiveServer, owner: Client, flask_app: dict[str, Any]) -> None:
    assert owner.post("/apps/stop", {"name": "web"})["status"] == "stopped"  # the seed's path
    from cumulo.testing import eventually

    eventually(lambda: through_caddy(apps_server, flask_app["subdomain"]).status_code != 200, timeout=30,
               what="the stopped app no longer served")
    assert owner.post("/apps/start", {"app_id": flask_app["id"]})["status"] == "running"
    serves(apps_server, flask_app["subdomain"], "flask v1")
    assert any("GET / HTTP" in line or "Booting worker" in line or "Listening" in line
               for line in owner.apps.logs("web"))


def test_a_killed_process_is_started_again(apps_server: LiveServer, owner: Client,
                                           flask_app: dict[str, Any]) -> None:
    engine = docker.from_env()
    try:
        running = find_containers(engine, label=f"cumulo.resource={flask_app['id']}")
        assert len(running) == 1
        running[0].kill()
        from cumulo.testing import eventually

        eventually(lambda: [c.id for c in engine.containers.list(
            filters={"label": f"cumulo.resource={flask_app['id']}"})] not in ([], [running[0].id]), timeout=90,
            interval=0.5, what="a new process of the app")
    finally:
        engine.close()
    serves(apps_server, flask_app["subdomain"], "flask v1", timeout=90)
    assert owner.apps.get("web")["status"] == "running"


def test_a_wrong_key_is_refused(owner: Client, flask_app: dict[str, Any], state: dict[str, Any]) -> None:
    repo: Repo = state["repo"]
    bad = repo.remote.replace(owner.api_key or "", "cumulo_not-a-key")
    push = repo.push(bad)
    assert push.returncode != 0
    assert "Authentication failed" in push.stderr or "401" in push.stderr


def test_another_user_cannot_see_or_push(owner: Client, stranger: Client, flask_app: dict[str, Any],
                                         state: dict[str, Any], tmp_path: Path) -> None:
    for call in (lambda: stranger.apps.get("web"), lambda: stranger.apps.get(flask_app["id"]),
                 lambda: stranger.apps.releases(flask_app["id"]), lambda: stranger.apps.delete(flask_app["id"]),
                 lambda: stranger.apps.set_config(flask_app["id"], {"X": "1"})):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404
    repo: Repo = state["repo"]
    theirs = repo.remote.replace(owner.api_key or "", stranger.api_key or "")
    push = repo.push(theirs)
    assert push.returncode != 0 and "not found" in push.stderr
    clone = repo.git("clone", "-q", theirs, str(tmp_path / "c"), check=False)
    assert clone.returncode != 0
    assert owner.apps.get("web")["release"] == 5


def test_deleting_the_app_forgets_its_images_and_files(apps_server: LiveServer, owner: Client,
                                                       flask_app: dict[str, Any]) -> None:
    slugs = apps_server.settings.data_dir / "apps" / "slugs" / flask_app["id"]
    assert list(slugs.glob("*.tar"))
    owner.apps.delete("web")
    assert not slugs.exists()
    engine = docker.from_env()
    try:
        tags = [t for image in engine.images.list() for t in image.tags if flask_app["id"] in t]
        left = find_containers(engine, label=f"cumulo.resource={flask_app['id']}")
    finally:
        engine.close()
    assert tags == [] and left == []

"""Releases kept on the server: a release whose files (its slug) are gone from disk is made again
from the app's Git repository, or refused with the reason while the current release keeps serving;
old releases beyond ``CUMULO_APPS_KEEP_RELEASES`` are pruned with the images and files no kept
release uses, the serving one never."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from cumulo.testing.engine import containers as find_containers
from cumulo.testing.server import LiveServer
from tests.services.apps.conftest import Repo, http_app, new_repo, serves, zip_of

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]

CRASH = 'if os.environ.get("CRASH"):\n    sys.exit(3)\n'


def source(version: str) -> str:
    return http_app(repr(f"rel {version}"), CRASH)


def slugs(live: LiveServer, app: dict[str, Any]) -> set[Path]:
    return set((live.settings.data_dir / "apps" / "slugs" / app["id"]).glob("*.tar"))


def kill_processes(owner: Client, app: dict[str, Any]) -> None:
    """Kill the running processes of the app's current release (not the previous one's, draining)."""
    current = next(r["id"] for r in owner.apps.releases(app["id"]) if r["current"])
    engine = docker.from_env()
    try:
        running = [c for c in find_containers(engine, label=f"cumulo.resource={app['id']}")
                   if c.labels.get("cumulo.app-release") == current]
        assert running
        for container in running:
            container.kill()
    finally:
        engine.close()


def image_tags(app: dict[str, Any]) -> set[str]:
    engine = docker.from_env()
    try:
        return {t for image in engine.images.list() for t in image.tags if t.startswith(f"cumulo-app/{app['id']}:")}
    finally:
        engine.close()


def error_of(call: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        call()
    return err.value


@pytest.fixture(scope="module")
def pushed(apps_server: LiveServer, owner: Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app ``rel`` pushed three times (v1..v3, each its own code); its files per version."""
    app = owner.apps.create("rel")
    repo: Repo = new_repo(tmp_path_factory.mktemp("rel"), owner, app, {"app.py": source("one")})
    files: dict[int, Path] = {}
    for n, version in enumerate(("one", "two", "three"), 1):
        if n > 1:
            repo.commit({"app.py": source(version)}, version)
        before = slugs(apps_server, app)
        push = repo.push()
        assert push.returncode == 0, push.stderr
        files[n] = (slugs(apps_server, app) - before).pop()
    serves(apps_server, app["subdomain"], "rel three")
    return {**app, "files": files}


def test_a_rollback_to_a_release_whose_files_are_gone_makes_them_again(
        apps_server: LiveServer, owner: Client, pushed: dict[str, Any]) -> None:
    v2 = pushed["files"][2]
    v2.unlink()  # lost by the operator
    release = owner.apps.rollback("rel", 2)
    assert release["version"] == 4
    serves(apps_server, pushed["subdomain"], "rel two")
    assert v2.exists()  # made again from v2's commit (the same digest)


def test_a_killed_process_whose_files_are_gone_is_healed_from_git(
        apps_server: LiveServer, owner: Client, pushed: dict[str, Any]) -> None:
    pushed["files"][2].unlink()  # v4 serves v2's files
    kill_processes(owner, pushed)
    serves(apps_server, pushed["subdomain"], "rel two", timeout=90)
    info = owner.apps.get("rel")
    assert (info["status"], info["release"], info["error"]) == ("running", 4, None)
    assert slugs(apps_server, pushed) == set(pushed["files"].values())


def test_old_releases_are_pruned_but_never_the_serving_one(
        apps_server: LiveServer, owner: Client, pushed: dict[str, Any]) -> None:
    assert image_tags(pushed) == {f"cumulo-app/{pushed['id']}:b{n}" for n in (1, 2, 3)}
    # ten releases that fail their health check (their config makes the app exit): v5..v14
    for _ in range(10):
        err = error_of(lambda: owner.apps.set_config("rel", {"CRASH": "1"}))
        assert err.status == 400 and "exited (code 3)" in err.message
    assert owner.apps.config("rel") == {}
    assert len(owner.apps.releases("rel")) == 14  # nothing pruned by a failed deploy
    # the serving v4 is now beyond the newest ten: a restart (which prunes) keeps it
    owner.apps.restart("rel")
    listed = owner.apps.releases("rel")
    assert [r["version"] for r in listed] == list(range(14, 3, -1))
    assert [r["version"] for r in listed if r["current"]] == [4]
    # v1 and v3's images and files went; v2's build image and files stay (v4..v14 use them)
    assert image_tags(pushed) == {f"cumulo-app/{pushed['id']}:b2"}
    assert slugs(apps_server, pushed) == {pushed["files"][2]}
    serves(apps_server, pushed["subdomain"], "rel two")
    assert error_of(lambda: owner.apps.rollback("rel", 3)).status == 404
    assert owner.apps.rollback("rel", 4)["version"] == 15  # a kept release still rolls back
    serves(apps_server, pushed["subdomain"], "rel two")
    assert owner.apps.get("rel")["release"] == 15


@pytest.fixture(scope="module")
def uploaded(apps_server: LiveServer, owner: Client) -> dict[str, Any]:
    """The app ``upl`` deployed twice from an upload (no Git commit to make its files again from);
    its files per version."""
    app = owner.apps.create("upl")
    files: dict[int, Path] = {}
    for version in (1, 2):
        before = slugs(apps_server, app)
        events = list(owner.apps.upload("upl", zip_of({"app.py": source(f"upload {version}").encode()})))
        assert "release" in events[-1], events[-3:]
        files[version] = (slugs(apps_server, app) - before).pop()
    serves(apps_server, app["subdomain"], "rel upload 2")
    return {"app": app, "files": files}


def test_a_release_whose_files_cannot_be_made_again_is_refused_and_the_current_one_serves(
        apps_server: LiveServer, owner: Client, uploaded: dict[str, Any]) -> None:
    app, files = uploaded["app"], uploaded["files"]
    files[1].unlink()
    err = error_of(lambda: owner.apps.rollback("upl", 1))
    assert err.status == 400
    assert "release v1 cannot start: its files" in err.message and "push again" in err.message
    files[2].unlink()  # now the serving release's own files
    for call in (lambda: owner.apps.restart("upl"), lambda: owner.post("/apps/start", {"name": "upl"}),
                 lambda: owner.apps.set_config("upl", {"X": "1"})):
        err = error_of(call)
        assert err.status == 400 and "release v2 cannot start: its files" in err.message
    assert owner.apps.config("upl") == {}
    serves(apps_server, app["subdomain"], "rel upload 2")  # its running process is untouched
    info = owner.apps.get("upl")
    assert (info["status"], info["release"]) == ("running", 2)
    assert [r["version"] for r in owner.apps.releases("upl")] == [2, 1]


def test_a_killed_process_whose_files_are_gone_fails_with_the_reason(
        apps_server: LiveServer, owner: Client, uploaded: dict[str, Any]) -> None:
    app = uploaded["app"]
    kill_processes(owner, app)
    info = eventually(lambda: (i := owner.apps.get("upl"))["status"] == "failed" and i, timeout=60, interval=0.5,
                      what="the app failed (its files are gone)")
    assert "release v2 cannot start: its files" in info["error"]
    # it is not tried again and again: a new deploy brings it back
    events = list(owner.apps.upload("upl", zip_of({"app.py": source("upload 3").encode()})))
    assert "release" in events[-1], events[-3:]
    serves(apps_server, app["subdomain"], "rel upload 3")
    assert owner.apps.get("upl")["status"] == "running"


DEPS_APP = """import importlib.metadata
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    try:
        return "six " + importlib.metadata.version("six")
    except importlib.metadata.PackageNotFoundError:
        return "no six"
"""


def test_a_push_that_changes_the_dependencies_runs_on_the_new_ones(
        apps_server: LiveServer, owner: Client, tmp_path: Path) -> None:
    app = owner.apps.create("newdeps")
    repo = new_repo(tmp_path, owner, app, {"app.py": DEPS_APP, "requirements.txt": "flask>=2\n"})
    assert repo.push().returncode == 0
    serves(apps_server, app["subdomain"], "no six")
    repo.commit({"requirements.txt": "flask>=2\nsix\n"}, "one more dependency")
    push = repo.push()
    assert push.returncode == 0, push.stderr
    assert "dependency image unchanged" not in push.stderr  # a new runtime image with the new install
    serves(apps_server, app["subdomain"], "six 1.")
    repo.commit({"app.py": DEPS_APP + "\n# code only\n"}, "code only")
    push = repo.push()
    assert push.returncode == 0 and "dependency image unchanged: reusing it" in push.stderr, push.stderr
    serves(apps_server, app["subdomain"], "six 1.")
    owner.apps.delete(app["id"])

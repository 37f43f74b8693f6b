"""The apps API without (or with few) builds: validation (400), names (409), another user's app
(404 everywhere, its remote refuses), the quota, unsafe repositories refused cleanly, the deploy
lock, the seed's paths, and an app deployed from a git_url served over HTTP on loopback."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.apps.conftest import Repo, new_repo, serves

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]


def status_of(call: Callable[[], Any]) -> int:
    try:
        call()
    except ApiError as exc:
        return exc.status
    return 200


@pytest.mark.parametrize("body", [
    {"name": "Upper"}, {"name": "-lead"}, {"name": "a" * 41}, {"name": "under_score"}, {"name": "list"},
    {"name": "ok", "branch": "../etc"}, {"name": "ok", "branch": "-x"}, {"name": "ok", "env_vars": {"1A": "x"}},
    {"name": "ok", "env_vars": {"PORT": "1"}}, {"name": "ok", "app_type": "cobol"}, {"name": "ok", "extra": 1},
    {"name": "ok", "git_url": "file:///etc"}, {"name": "ok", "git_url": "/srv/repos/other.git"},
    {"name": "ok", "git_url": "ssh://-oProxyCommand=x/x.git"}, {"name": "ok", "git_url": "git://me@127.0.0.1/x.git"},
    {"name": "ok", "replicas": 0},
    {"name": "ok", "env_vars": {"K": "\u0000"}}, {},
])
def test_bad_input_is_400(owner: Client, body: dict[str, Any]) -> None:
    response = httpx.post(f"{owner.base_url}/apps", json=body, headers=owner.headers())
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "INVALID_INPUT"
    assert not any(a["name"] == body.get("name") for a in owner.apps.list())


def test_names_are_unique_per_user(owner: Client, stranger: Client) -> None:
    owner.apps.create("same")
    assert status_of(lambda: owner.apps.create("same")) == 409
    theirs = stranger.apps.create("same")  # another user may use the name: the hostname differs
    assert theirs["subdomain"] != owner.apps.get("same")["subdomain"]
    stranger.apps.delete("same")
    owner.apps.delete("same")
    assert status_of(lambda: owner.apps.get("same")) == 404


def test_another_users_app_is_404_everywhere(owner: Client, stranger: Client) -> None:
    app = owner.apps.create("mine")
    ref = app["id"]
    calls = [lambda: stranger.apps.get(ref), lambda: stranger.get(f"/apps/{ref}/status"),
             lambda: stranger.apps.logs(ref), lambda: stranger.apps.builds(ref), lambda: stranger.apps.releases(ref),
             lambda: stranger.apps.config(ref), lambda: stranger.apps.set_config(ref, {"A": "1"}),
             lambda: stranger.apps.domains(ref), lambda: stranger.apps.add_domain(ref, "x.example.com"),
             lambda: stranger.apps.rollback(ref, 1), lambda: stranger.apps.stop(ref),
             lambda: stranger.apps.start(ref), lambda: stranger.apps.deploy(ref),
             lambda: stranger.apps.update(ref, replicas=2), lambda: stranger.apps.purge_cache(ref),
             lambda: stranger.post("/apps/stop", {"app_id": ref}), lambda: stranger.post("/apps/deploy", {"name": "mine"}),
             lambda: stranger.apps.build_log(ref, 1), lambda: stranger.apps.delete(ref)]
    assert [status_of(c) for c in calls] == [404] * len(calls)
    assert all(a["id"] != ref for a in stranger.get("/apps/list"))
    assert owner.apps.get(ref)["status"] == "pending"
    owner.apps.delete(ref)


def test_config_without_a_release_is_stored(owner: Client) -> None:
    owner.apps.create("cfg", env_vars={"A": "1"})
    assert owner.apps.set_config("cfg", {"B": "2"}, unset=["A"]) == {"B": "2"}
    assert owner.apps.config("cfg") == {"B": "2"}
    assert status_of(lambda: owner.apps.set_config("cfg", {"bad-key": "x"})) == 400
    assert status_of(lambda: owner.apps.rollback("cfg")) == 400  # nothing to roll back from
    assert status_of(lambda: owner.apps.start("cfg")) == 400  # nothing pushed yet
    assert status_of(lambda: owner.apps.deploy("cfg")) == 400
    owner.apps.delete("cfg")


def test_custom_domains(owner: Client, stranger: Client, apps_server: LiveServer) -> None:
    owner.apps.create("dom")
    stranger.apps.create("dom2")
    assert owner.apps.add_domain("dom", "www.example-shop.test")["domains"] == ["www.example-shop.test"]
    assert status_of(lambda: stranger.apps.add_domain("dom2", "www.example-shop.test")) == 409
    assert status_of(lambda: owner.apps.add_domain("dom", "not a host")) == 400
    base = apps_server.settings.proxy_base_domain
    assert status_of(lambda: owner.apps.add_domain("dom", f"dom2-{stranger.apps.get('dom2')['subdomain']}")) == 400
    assert status_of(lambda: owner.apps.add_domain("dom", f"evil-12345678.{base}")) == 400
    owner.apps.remove_domain("dom", "www.example-shop.test")
    assert owner.apps.domains("dom") == []
    assert stranger.apps.add_domain("dom2", "www.example-shop.test")["domains"] == ["www.example-shop.test"]
    owner.apps.delete("dom")
    stranger.apps.delete("dom2")


def test_the_app_quota(make_server: Callable[..., LiveServer]) -> None:
    live = make_server(quota_apps=1, proxy_driver="fake")
    with register_and_login(live) as client:
        client.apps.create("one")
        assert status_of(lambda: client.apps.create("two")) == 403
        assert [a["name"] for a in client.apps.list()] == ["one"]
        quota = next(q for q in client.get("/quotas") if q["kind"] == "apps")
        assert (quota["used"], quota["limit"]) == (1, 1)


@pytest.fixture(scope="module")
def unsafe(owner: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    app = owner.apps.create("unsafe")
    repo = new_repo(tmp_path_factory.mktemp("unsafe"), owner, app, {"index.html": "x\n"})
    yield repo
    owner.apps.delete("unsafe")


@pytest.mark.parametrize(("files", "error"), [
    ({"Dockerfile": "FROM python:3.12\n"}, "Dockerfile line 1: image 'python:3.12' not found"),
    ({"Dockerfile": "FROM cumulo/busybox\nADD https://example.com/x /x\n"}, "ADD of a URL or git repository is refused"),
    ({"requirements.txt": "flask @ https://example.com/flask.whl\n", "app.py": "x=1\n"}, "is not allowed"),
    ({"requirements.txt": "--index-url http://127.0.0.1:1/\n", "app.py": "x=1\n"}, "options (--index-url)"),
    ({"package.json": '{"dependencies": {"x": "file:../../other"}}', "index.js": "1\n"}, "must be a registry version"),
    ({"nothing.txt": "?\n"}, "cannot tell what this app is"),
])
def test_unsafe_or_unbuildable_trees_are_refused(owner: Client, unsafe: Repo, files: dict[str, str],
                                                 error: str) -> None:
    for path in list(unsafe.path.iterdir()):
        if path.name != ".git":
            path.unlink()
    unsafe.commit(files, "try")
    push = unsafe.push()
    assert push.returncode != 0 and "pre-receive hook declined" in push.stderr
    assert error in push.stderr, push.stderr[-2000:]
    assert owner.apps.get("unsafe")["release"] is None


def test_symlinks_out_of_the_tree_are_refused(owner: Client, unsafe: Repo) -> None:
    os.symlink("/etc/passwd", unsafe.path / "passwd")
    os.symlink("../../../../etc", unsafe.path / "etc")
    unsafe.commit({"index.html": "x\n"}, "links")
    push = unsafe.push()
    assert push.returncode != 0 and "points outside the repository" in push.stderr


def test_huge_files_are_refused(owner: Client, unsafe: Repo) -> None:
    for path in list(unsafe.path.iterdir()):
        if path.name != ".git":
            path.unlink()
    (unsafe.path / "big.bin").write_bytes(os.urandom(1536 * 1024))  # the test server allows 1 MB per file
    unsafe.commit({"index.html": "x\n"}, "big")
    push = unsafe.push()
    assert push.returncode != 0 and "files are at most 1 MB" in push.stderr


def test_other_branches_do_not_deploy(owner: Client, unsafe: Repo) -> None:
    unsafe.git("checkout", "-q", "-b", "feature")
    push = unsafe.push(ref="feature")
    assert push.returncode == 0, push.stderr
    assert "Only pushes to 'main' deploy" in push.stderr
    unsafe.git("checkout", "-q", "main")


def test_one_deploy_at_a_time(owner: Client, tmp_path: Path) -> None:
    app = owner.apps.create("slow")
    first = new_repo(tmp_path / "a", owner, app, {"Dockerfile": "FROM cumulo/busybox\nRUN sleep 4\n"
                                                  "CMD [\"sh\", \"-c\", \"sleep 3600\"]\n", "Procfile": "worker: x"})
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.setdefault("push", first.push()))
    thread.start()
    try:
        eventually(lambda: any(b["status"] == "building" for b in owner.apps.builds("slow")), timeout=60,
                   what="the first build running")
        second = Repo(tmp_path / "b", app["git_remote"], owner.api_key or "")
        second.commit({"index.html": "x\n"}, "second")
        push = second.git("push", "--force", second.remote, "main", check=False)
        assert push.returncode != 0
        assert "another deploy of app 'slow' is running" in push.stderr
    finally:
        thread.join(120)
    owner.apps.delete("slow")


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def serve_repo(tmp_path: Path, first: str, handler: type[Quiet] = Quiet) -> tuple[Repo, Path, Any, str]:
    """A working tree committed with ``first`` as index.html, its bare clone served over dumb HTTP
    on loopback by ``handler``: (tree, bare repository, server, url)."""
    work = Repo(tmp_path / "src", "http://unused/x.git", "k")
    work.commit({"index.html": first}, "v1")
    bare = tmp_path / "served" / "site.git"
    work.git("clone", "-q", "--bare", str(work.path), str(bare))
    work.git("--git-dir", str(bare), "update-server-info")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(handler, directory=str(tmp_path / "served")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return work, bare, server, f"http://127.0.0.1:{server.server_address[1]}/site.git"


def test_deploy_from_a_git_url(apps_server: LiveServer, owner: Client, tmp_path: Path) -> None:
    work, bare, server, url = serve_repo(tmp_path, "<p>from git_url v1</p>\n")
    try:
        app = owner.post("/apps/create", {"name": "fromurl", "git_url": url, "branch": "main"})
        assert app["git_url"] == url and app["status"] == "building"
        eventually(lambda: owner.get(f"/apps/{app['app_id']}/status")["status"] == "running", timeout=120,
                   what="the app deployed from its git_url")
        serves(apps_server, app["subdomain"], "from git_url v1")
        work.commit({"index.html": "<p>from git_url v2</p>\n"}, "v2")
        work.git("push", "-q", str(bare), "main")
        work.git("--git-dir", str(bare), "update-server-info")
        assert owner.post("/apps/deploy", {"name": "fromurl"})["status"] == "building"
        serves(apps_server, app["subdomain"], "from git_url v2", timeout=120)
        assert [a["name"] for a in owner.get("/apps/list") if a["name"] == "fromurl"] == ["fromurl"]
        assert isinstance(owner.get(f"/apps/{app['app_id']}/logs"), list)
    finally:
        server.shutdown()
        owner.apps.delete("fromurl")


def test_deploy_from_a_private_git_url_with_a_secret(apps_server: LiveServer, owner: Client, stranger: Client,
                                                     tmp_path: Path) -> None:
    token = "tok-" + os.urandom(8).hex()
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    seen: list[str] = []

    class Private(Quiet):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

    work, bare, server, url = serve_repo(tmp_path, "<p>private v1</p>\n", Private)
    try:
        # without the secret the clone is refused by the server: 400, and git's prompt is never reached
        assert status_of(lambda: owner.post("/apps", {"name": "nopriv", "git_url": url})) == 400
        assert status_of(lambda: owner.apps.get("nopriv")) == 404  # nothing half-created
        assert status_of(lambda: owner.post("/apps", {"name": "p2", "git_url": url, "git_secret": "nope"})) == 404
        assert status_of(lambda: owner.post("/apps", {"name": "p3", "git_secret": "x"})) == 400
        owner.secrets.create("deploy/private-token", token)
        assert status_of(lambda: stranger.post("/apps", {"name": "p4", "git_url": url,
                                                         "git_secret": "deploy/private-token"})) == 404
        app = owner.post("/apps", {"name": "priv", "git_url": url, "git_secret": "deploy/private-token"})
        assert app["git_secret"] == "deploy/private-token" and token not in json.dumps(app)
        eventually(lambda: owner.get(f"/apps/{app['app_id']}/status")["status"] == "running", timeout=120,
                   what="the app deployed from its private git_url")
        serves(apps_server, app["subdomain"], "private v1")
        assert expected in seen
        # the token is used for the clone only: not in the config, the answers, the build log
        assert owner.apps.config("priv") == {}
        assert token not in json.dumps(owner.apps.get("priv")) + owner.apps.build_log("priv", 1)
        assert token not in json.dumps(owner.apps.releases("priv"))
        # a rotated secret: the next deploy reads it again
        token2 = "tok-" + os.urandom(8).hex()
        owner.secrets.put("deploy/private-token", token2)
        expected = "Basic " + base64.b64encode(f"x-access-token:{token2}".encode()).decode()
        work.commit({"index.html": "<p>private v2</p>\n"}, "v2")
        work.git("push", "-q", str(bare), "main")
        work.git("--git-dir", str(bare), "update-server-info")
        assert owner.apps.deploy("priv")["status"] == "building"
        serves(apps_server, app["subdomain"], "private v2", timeout=120)
        assert owner.apps.update("priv", git_secret="")["git_secret"] is None
        assert status_of(lambda: owner.apps.deploy("priv")) == 400  # the server wants credentials again
    finally:
        server.shutdown()
        for name in ("priv", "nopriv"):
            with contextlib.suppress(ApiError):
                owner.apps.delete(name)

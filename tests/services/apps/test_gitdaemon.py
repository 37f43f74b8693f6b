"""Apps deployed from a git:// git_url: the server clones with the real git client from a real
``git daemon`` on loopback (let through by the test server's outbound allow-list, as for the http
and ssh clones), dialling the vetted address while asking for the URL's host name; forbidden hosts,
malformed or option-looking URLs and a secret on a protocol with no authentication are clear 400s
and leave nothing behind."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer
from tests.services.apps.conftest import Repo, error_of, serves
from tests.services.apps.gitdaemon import GitDaemon

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]


@pytest.mark.parametrize("url", [
    "git://10.1.2.3/site.git", "git://169.254.169.254/site.git", "git://[fd00::1]:9418/site.git",
    "git://192.168.1.1:9418/x/site.git",
])
def test_a_forbidden_git_host_is_400(owner: Client, url: str) -> None:
    status, message = error_of(owner, {"name": "forbidden", "git_url": url})
    assert status == 400, message
    assert "address" in message
    with pytest.raises(ApiError) as exc:
        owner.apps.get("forbidden")
    assert exc.value.status == 404


@pytest.mark.parametrize("url", [
    "git://-oProxyCommand=touch%20/tmp/pwned/x.git", "git://127.0.0.1/-x.git", "git://me@127.0.0.1/x.git",
    "git://me:pw@127.0.0.1/x.git", "git://127.0.0.1/", "git://127.0.0.1/x.git?a=b", "git://127.0.0.1:99999/x.git",
    "git://127.0.0.1/x y.git", "-git://127.0.0.1/x.git",
])
def test_option_looking_git_urls_are_400(owner: Client, url: str) -> None:
    status, message = error_of(owner, {"name": "inject", "git_url": url})
    assert status == 400, message
    assert not Path("/tmp/pwned").exists()
    assert not any(a["name"] == "inject" for a in owner.apps.list())


@pytest.fixture
def daemon_repo(tmp_path: Path) -> Iterator[tuple[Repo, Path, GitDaemon, str]]:
    work = Repo(tmp_path / "src", "http://unused/x.git", "k")
    work.commit({"index.html": "<p>from git daemon v1</p>\n"}, "v1")
    root = tmp_path / "served"
    bare = root / "localhost" / "site.git"  # served by the host name the client asks for
    work.git("clone", "-q", "--bare", str(work.path), str(bare))
    daemon = GitDaemon(root).start()
    try:
        yield work, bare, daemon, f"git://localhost:{daemon.port}/site.git"
    finally:
        daemon.stop()


def test_deploy_from_a_git_daemon(apps_server: LiveServer, owner: Client,
                                  daemon_repo: tuple[Repo, Path, GitDaemon, str]) -> None:
    work, bare, daemon, url = daemon_repo
    try:
        owner.secrets.create("deploy/git-token", "tok-123")
        # the git protocol has no authentication: a secret for it is a mistake, said so
        status, message = error_of(owner, {"name": "gitsecret", "git_url": url, "git_secret": "deploy/git-token"})
        assert status == 400 and "no authentication" in message, message
        # a branch the repository does not have: git's own answer, nothing left behind
        status, message = error_of(owner, {"name": "gitbranch", "git_url": url, "branch": "nope"})
        assert status == 400 and "nope" in message, message
        assert not {a["name"] for a in owner.apps.list()} & {"gitsecret", "gitbranch"}

        app = owner.post("/apps/create", {"name": "viagit", "git_url": url})
        assert app["git_url"] == url
        eventually(lambda: owner.get(f"/apps/{app['app_id']}/status")["status"] == "running", timeout=120,
                   what="the app deployed from git://")
        serves(apps_server, app["subdomain"], "from git daemon v1")
        # the daemon was asked for the URL's host name (it serves repositories by it), not the address
        log = daemon.requests()
        assert f'Extended attribute "host": localhost:{daemon.port}' in log
        assert "Request upload-pack for '/site.git'" in log

        # a new commit: deploy fetches it again over git://
        work.commit({"index.html": "<p>from git daemon v2</p>\n"}, "v2")
        work.git("push", "-q", str(bare), "main")
        assert owner.post("/apps/deploy", {"name": "viagit"})["status"] == "building"
        serves(apps_server, app["subdomain"], "from git daemon v2", timeout=120)

        # the daemon is gone: the deploy is a clear 400 and the running release keeps serving
        daemon.stop()
        response = httpx.post(f"{owner.base_url}/apps/deploy", json={"name": "viagit"}, headers=owner.headers(),
                              timeout=120)
        assert response.status_code == 400, response.text
        assert "cannot connect" in response.json()["error"]["message"]
        serves(apps_server, app["subdomain"], "from git daemon v2")
    finally:
        for name in ("viagit", "gitsecret", "gitbranch"):
            with contextlib.suppress(ApiError):
                owner.apps.delete(name)
        with contextlib.suppress(ApiError):
            owner.secrets.delete("deploy/git-token")

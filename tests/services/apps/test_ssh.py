"""Apps deployed from an ssh git_url: the server clones with the real git and ssh clients from a
real SSH server on loopback (asyncssh running git-upload-pack; loopback is let through by the test
server's outbound allow-list, as for the http clones), authenticated with a deploy key kept in the
Secrets Manager; a wrong key, a secret that is no key, a changed host key, forbidden hosts and
option-looking URLs are clear 400s and leave nothing behind."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer
from tests.services.apps.conftest import Repo, error_of, serves
from tests.services.apps.sshserver import GitSSHServer, new_key, private_text

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]


@pytest.mark.parametrize("url", [
    "ssh://git@10.1.2.3/site.git", "git@169.254.169.254:site.git", "ssh://git@[fd00::1]:2222/site.git",
    "git@192.168.1.1:x/site.git",
])
def test_a_forbidden_ssh_host_is_400(owner: Client, url: str) -> None:
    status, message = error_of(owner, {"name": "forbidden", "git_url": url})
    assert status == 400, message
    assert "address" in message
    with pytest.raises(ApiError) as exc:
        owner.apps.get("forbidden")
    assert exc.value.status == 404


@pytest.mark.parametrize("url", [
    "ssh://-oProxyCommand=touch%20/tmp/pwned/x.git", "-oProxyCommand=touch:x.git", "git@-oProxyCommand=x:y.git",
    "git@127.0.0.1:-uupload-pack=touch", "ssh://git@127.0.0.1/-x.git", "ssh://git:pw@127.0.0.1/x.git",
    "ssh://git@127.0.0.1/", "git@127.0.0.1:x y.git", "-git@127.0.0.1:x.git",
])
def test_option_looking_ssh_urls_are_400(owner: Client, url: str) -> None:
    status, message = error_of(owner, {"name": "inject", "git_url": url})
    assert status == 400, message
    assert not Path("/tmp/pwned").exists()
    assert not any(a["name"] == "inject" for a in owner.apps.list())


@pytest.fixture
def ssh_repo(tmp_path: Path) -> Iterator[tuple[Repo, Path, GitSSHServer, str]]:
    key = new_key()
    work = Repo(tmp_path / "src", "http://unused/x.git", "k")
    work.commit({"index.html": "<p>from ssh v1</p>\n"}, "v1")
    bare = tmp_path / "served" / "site.git"
    work.git("clone", "-q", "--bare", str(work.path), str(bare))
    server = GitSSHServer(tmp_path / "served", [key]).start()
    server.deploy_key = private_text(key)  # type: ignore[attr-defined]
    try:
        yield work, bare, server, f"ssh://git@127.0.0.1:{server.port}/site.git"
    finally:
        server.stop()


def test_deploy_over_ssh_with_a_deploy_key(apps_server: LiveServer, owner: Client, stranger: Client, tmp_path: Path,
                                           ssh_repo: tuple[Repo, Path, GitSSHServer, str],
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    work, bare, server, url = ssh_repo
    deploy_key: str = server.deploy_key  # type: ignore[attr-defined]
    wrong_key = private_text(new_key())
    key_body = deploy_key.splitlines()[2]
    try:
        owner.secrets.create("deploy/ssh-key", deploy_key)
        owner.secrets.create("deploy/wrong-key", wrong_key)
        owner.secrets.create("deploy/a-token", "tok-123")
        # a key the server does not know: a clear 400 naming the cause, no app left behind
        status, message = error_of(owner, {"name": "sshwrong", "git_url": url, "git_secret": "deploy/wrong-key"})
        assert status == 400 and "refused the deploy key" in message, message
        # no key at all: the server's own keys (~/.ssh) are not offered either
        status, message = error_of(owner, {"name": "sshnokey", "git_url": url})
        assert status == 400 and "refused the deploy key" in message, message
        # a token is not a deploy key
        status, message = error_of(owner, {"name": "sshtoken", "git_url": url, "git_secret": "deploy/a-token"})
        assert status == 400 and "private key" in message, message
        assert not {a["name"] for a in owner.apps.list()} & {"sshwrong", "sshnokey", "sshtoken"}
        # another user's secret is 404
        assert error_of(stranger, {"name": "sshx", "git_url": url, "git_secret": "deploy/ssh-key"})[0] == 404

        app = owner.post("/apps/create", {"name": "viassh", "git_url": url, "git_secret": "deploy/ssh-key"})
        assert app["git_url"] == url and app["git_secret"] == "deploy/ssh-key"
        eventually(lambda: owner.get(f"/apps/{app['app_id']}/status")["status"] == "running", timeout=120,
                   what="the app deployed over ssh")
        serves(apps_server, app["subdomain"], "from ssh v1")
        assert "git-upload-pack '/site.git'" in server.commands
        # the key is read for the clone only: not in answers, config, build log, server log, nor left on disk
        assert key_body not in json.dumps(owner.apps.get("viassh")) + owner.apps.build_log("viassh", 1)
        assert owner.apps.config("viassh") == {}
        assert key_body not in caplog.text
        assert not list(apps_server.settings.data_dir.rglob("deploy_key"))

        # a new commit: deploy fetches it again over ssh (the host key recorded at the first clone matches)
        work.commit({"index.html": "<p>from ssh v2</p>\n"}, "v2")
        work.git("push", "-q", str(bare), "main")
        assert owner.post("/apps/deploy", {"name": "viassh"})["status"] == "building"
        serves(apps_server, app["subdomain"], "from ssh v2", timeout=120)

        # the same address now answers with another host key: refused, the running release keeps serving
        port = server.port
        server.stop()
        impostor = GitSSHServer(bare.parent, [new_key()], port=port).start()
        try:
            response = httpx.post(f"{owner.base_url}/apps/deploy", json={"name": "viassh"}, headers=owner.headers(),
                                  timeout=120)
            assert response.status_code == 400, response.text
            assert "host key" in response.json()["error"]["message"]
            assert impostor.commands == []  # the clone stopped before authenticating or running anything
        finally:
            impostor.stop()
        serves(apps_server, app["subdomain"], "from ssh v2")
    finally:
        for name in ("viassh", "sshwrong", "sshnokey", "sshtoken"):
            with contextlib.suppress(ApiError):
                owner.apps.delete(name)
        for name in ("deploy/ssh-key", "deploy/wrong-key", "deploy/a-token"):
            with contextlib.suppress(ApiError):
                owner.secrets.delete(name)

"""Fast checks of how the server's clone hands paths and addresses to the real ssh and git clients
(no Docker, no server): paths with a space and a ``%`` reach ssh as written (``ssh -G`` prints the
effective configuration without connecting, and a real ssh clone from a loopback SSH server uses
the deploy key and known_hosts at those paths); a git:// clone dials the vetted address through
its relay while sending the URL's host name (a name that does not even resolve, served by a real
``git daemon`` on loopback by that name); malformed or option-looking git:// URLs are refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cumulo.core.errors import InvalidInput, Unavailable
from cumulo.services.apps import git, remote
from tests.services.apps.conftest import Repo
from tests.services.apps.gitdaemon import GitDaemon
from tests.services.apps.sshserver import GitSSHServer, new_key, private_text

ODD = "dir with space%h%%n"


def ssh_dump(command: str, host: str = "git@example.test") -> dict[str, list[str]]:
    """``ssh -G`` of a ``GIT_SSH_COMMAND`` run the way git runs it (through the shell, host appended)."""
    done = subprocess.run(["sh", "-c", f"{command} -G {host}"], capture_output=True, text=True, timeout=30, check=False,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    options: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        options.setdefault(key, []).append(value)
    return options


def test_ssh_reads_paths_with_a_space_and_a_percent_as_written(tmp_path: Path) -> None:
    work = tmp_path / ODD
    work.mkdir()
    known_hosts = work / "known hosts"
    target = remote.Target("ssh", "example.test", 2222)
    env = remote._ssh_env(work, target, "192.0.2.7", private_text(new_key()), known_hosts)
    options = ssh_dump(env["GIT_SSH_COMMAND"])
    assert options["userknownhostsfile"] == [str(known_hosts)]
    # ssh prints IdentityFile before its own %-expansion: the doubled form expands to the path itself
    assert options["identityfile"] == [str(work / "deploy_key").replace("%", "%%")]
    assert options["hostname"] == ["192.0.2.7"] and options["port"] == ["22"]
    assert (work / "deploy_key").stat().st_mode & 0o777 == 0o600
    # what the unquoted option did: ssh split the value at the space and read %h as the host name
    unquoted = ssh_dump(f"ssh -F /dev/null -o 'UserKnownHostsFile={tmp_path}/x y%h'")
    assert unquoted["userknownhostsfile"] != [f"{tmp_path}/x y%h"]


def test_no_key_means_no_identity_file_at_all(tmp_path: Path) -> None:
    env = remote._ssh_env(tmp_path, remote.Target("ssh", "example.test", 22), "192.0.2.7", None, tmp_path / "kh")
    assert ssh_dump(env["GIT_SSH_COMMAND"])["identityfile"] == ["none"]  # not ~/.ssh/id_*


@pytest.mark.parametrize("name", ['a"b', "a\\b", "a${HOME}b", "a\nb"])
def test_a_path_ssh_cannot_read_as_written_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(Unavailable):
        remote.ssh_path(tmp_path / name)
    with pytest.raises(Unavailable):
        remote.ssh_path(Path("relative/kh"))


def test_a_real_ssh_clone_uses_the_key_and_known_hosts_under_odd_paths(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(served / "site.git")], check=True)
    key = new_key()
    server = GitSSHServer(served, [key]).start()
    try:
        work = tmp_path / ODD
        work.mkdir()
        known_hosts = work / "known hosts%d"
        env = remote._ssh_env(work, remote.Target("ssh", "127.0.0.1", server.port), "127.0.0.1", private_text(key),
                              known_hosts)
        done = subprocess.run(["git", "-c", "protocol.allow=never", "-c", "protocol.ssh.allow=always", "ls-remote",
                               f"ssh://git@127.0.0.1:{server.port}/site.git"], env=git._git_env(work) | env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert server.commands == ["git-upload-pack '/site.git'"]
        # the host key was recorded at exactly that path, under the URL's name and port
        assert f"[127.0.0.1]:{server.port} ssh-ed25519 " in known_hosts.read_text()
        assert sorted(p.name for p in work.iterdir()) == ["deploy_key", "known hosts%d"]
    finally:
        server.stop()


def test_a_git_protocol_clone_dials_the_vetted_address_and_keeps_the_host_name(tmp_path: Path) -> None:
    # the name does not resolve at all: the clone works only if git never looks it up and the relay
    # dials the address it was given; the daemon finds the repository by the name git sent as host=
    root = tmp_path / "daemon"
    work = Repo(tmp_path / "src", "http://unused/x.git", "k")
    work.commit({"index.html": "<p>over git://</p>\n"}, "v1")
    work.git("clone", "-q", "--bare", str(work.path), str(root / "repo.invalid" / "site.git"))
    daemon = GitDaemon(root, listen="127.0.0.1").start()
    try:
        clone = tmp_path / ODD
        clone.mkdir()
        env = remote._daemon_env(clone, "127.0.0.1", daemon.port)
        assert (clone / "git-connect").stat().st_mode & 0o777 == 0o700
        done = subprocess.run(["git", "-c", "protocol.allow=never", "-c", "protocol.git.allow=always", "clone", "-q",
                               "--", f"git://repo.invalid:{daemon.port}/site.git", str(clone / "repo")],
                              env=git._git_env(clone) | env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (clone / "repo" / "index.html").read_text() == "<p>over git://</p>\n"
        assert f'Extended attribute "host": repo.invalid:{daemon.port}' in daemon.requests()
        # nothing listens there: a clear error from the relay, not a lookup of the name
        env = remote._daemon_env(tmp_path, "127.0.0.1", 1)
        done = subprocess.run(["git", "-c", "protocol.git.allow=always", "ls-remote", "git://repo.invalid/site.git"],
                              env=git._git_env(tmp_path) | env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode != 0 and "cannot connect to 127.0.0.1 port 1" in done.stderr, done.stderr
    finally:
        daemon.stop()


@pytest.mark.parametrize("url", [
    "git://-oProxyCommand=x/y.git", "git://127.0.0.1/-x.git", "git://me@127.0.0.1/x.git", "git://me:pw@127.0.0.1/x.git",
    "git://127.0.0.1/", "git://127.0.0.1/x.git?a=b", "git://127.0.0.1/x.git#b", "git://127.0.0.1:99999/x.git",
    "git://127.0.0.1/x y.git", "git:///x.git",
])
def test_option_looking_or_malformed_git_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        remote._parse(url)


def test_git_protocol_urls_take_no_secret() -> None:
    assert remote._parse("git://example.test/x.git") == remote.Target("git", "example.test", 9418)
    assert remote._parse("git://[2001:db8::1]:9419/x.git") == remote.Target("git", "2001:db8::1", 9419)
    assert not remote.is_ssh("git://example.test/x.git")
    with pytest.raises(InvalidInput, match="no authentication"):
        remote.check_credential("git://example.test/x.git", "token")

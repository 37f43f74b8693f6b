"""Apps deployed from a repository URL (``git_url``): cloned by the server over https, http, ssh
or git (the git daemon protocol), through the outbound guard (loopback, this host, Docker/VPC and private networks are refused
unless the operator's ``CUMULO_OUTBOUND_ALLOW`` lets them through). Local paths, ``file://`` and
other transports are 400: they would read the server's own disk. The clone pins the vetted
address (``http.curloptResolve``, ssh's ``HostName``, or for git:// a connect command, below) so a
DNS answer that changes after the check is not followed, and redirects are not followed.

Over git:// (``git://host[:port]/path``, port 9418 by default) git is given ``GIT_PROXY_COMMAND``:
a small relay Cumulo writes for this clone that dials the vetted address only (whatever host git
names) and pipes git's protocol through it, so git never resolves the name itself while the
request it sends still carries ``host=<name>`` (a git daemon serving virtual hosts by name,
``--interpolated-path`` with ``%H``, finds the repository). Rewriting the URL to the address
(``url.<ip>.insteadOf``) was not used: git would then send the address as ``host=``. The git
protocol has no authentication: such a URL has no user or password and takes no ``git_secret``.

Over ssh (``ssh://[user@]host[:port]/path`` or scp-like ``[user@]host:path``) the clone
authenticates with a deploy key: the app's ``git_secret`` holding an OpenSSH private key, written
to a 0600 file for this clone only. ssh runs with no config file (``-F /dev/null``), the key alone
(``IdentitiesOnly``, no agent), never prompting (``BatchMode``), no proxy or forwarding. Host keys:
the first clone accepts the server's key into the app's own known_hosts kept by Cumulo
(``accept-new``); a later clone to a server whose key has changed is refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cumulo.core.errors import InvalidInput, Unavailable
from cumulo.drivers.http import guard
from cumulo.platform import Platform
from cumulo.services.apps import git
from cumulo.services.apps.models import App

# scp-like syntax as git reads it: a colon before any slash, no scheme
_SCP = re.compile(r"^(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]{0,63})@)?"
                  r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<path>[^:].*)$")
_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$")
_KEY = re.compile(r"^-----BEGIN (OPENSSH|RSA|EC|DSA)? ?PRIVATE KEY-----")
KNOWN_HOSTS = "cumulo-known_hosts"  # in the app's bare repository folder: removed with the app


@dataclass(frozen=True)
class Target:
    scheme: str  # https, http, ssh or git
    host: str
    port: int


def _parse(url: str) -> Target:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidInput("git_url must not contain spaces or control characters")
    if url.startswith(("https://", "http://")):
        scheme, host, port = guard.check_syntax(url)
        return Target(scheme, host, port)
    scheme = "ssh"
    if url.startswith("git://"):
        scheme = "git"
        try:
            parts = urlsplit(url)
            port = parts.port or 9418
        except ValueError as exc:
            raise InvalidInput(f"invalid git_url: {exc}") from None
        if parts.username is not None or parts.password is not None:
            raise InvalidInput("a git:// URL has no user or password: the git protocol has no authentication "
                               "(use an https or ssh URL with git_secret for a private repository)")
        if parts.query or parts.fragment:
            raise InvalidInput("a git:// git_url has no query or fragment")
        user, host, path = None, parts.hostname or "", parts.path
    elif url.startswith("ssh://"):
        try:
            parts = urlsplit(url)
            port = parts.port or 22
        except ValueError as exc:
            raise InvalidInput(f"invalid git_url: {exc}") from None
        if parts.password is not None:
            raise InvalidInput("git_url must not carry a password: keep a deploy key in a secret (git_secret)")
        user, host, path = parts.username, parts.hostname or "", parts.path
        if parts.query or parts.fragment:
            raise InvalidInput("an ssh git_url has no query or fragment")
    elif "://" not in url and (m := _SCP.match(url)):
        user, host, path, port = m["user"], m["host"].strip("[]"), m["path"], 22
    else:
        raise InvalidInput("git_url must be an https://, http://, ssh:// or git:// repository URL, or "
                           "git@host:path (local paths and file:// are not accepted)")
    if not host:
        raise InvalidInput("git_url has no host")
    if host.startswith("-") or path.lstrip("/").startswith("-") or (user is not None and not _USER.match(user)):
        raise InvalidInput("git_url: the user, host and path must not start with '-'")
    if not path.strip("/"):
        raise InvalidInput("git_url has no repository path")
    return Target(scheme, host, port)


def _own_ports(platform: Platform) -> set[int]:
    s = platform.settings
    return {s.port, s.s3_port, s.proxy_http_port, s.proxy_https_port} - {0}


async def check(platform: Platform, url: str) -> str:
    """The address the clone may dial (400 for anything but a vetted http(s), ssh or git URL)."""
    target = _parse(url)
    addresses = await guard.resolve(target.host, target.port, guard.allow_list(platform.settings),
                                    own_ports=_own_ports(platform))
    return str(addresses[0])


def is_ssh(url: str) -> bool:
    return not url.startswith(("https://", "http://", "git://"))


def is_key(credential: str) -> bool:
    return bool(_KEY.match(credential.strip()))


def _auth_env(credential: str | None) -> dict[str, str]:
    """HTTP Basic for the clone through git's environment config (not argv, not a file): a bare
    token goes as the password of ``x-access-token``, ``user:password`` as written."""
    if not credential:
        return {}
    user, sep, password = credential.strip().partition(":")
    pair = f"{user}:{password}" if sep else f"x-access-token:{user}"
    header = "Authorization: Basic " + base64.b64encode(pair.encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": header}


def ssh_path(path: Path) -> str:
    """``path`` as one value for ssh's own option parser: ssh splits an ``-o`` value on whitespace
    (quotes group), expands ``%`` tokens (``%%`` is a literal ``%``), ``${VAR}`` and a leading ``~``
    in file options, so the value is double-quoted with every ``%`` doubled; a path that cannot be
    written that way (a ``"``, a backslash, ``${`` or a control character: only the operator's data
    directory could bring one) is refused with 503 rather than handed to ssh half-read."""
    text = str(path)
    if not path.is_absolute() or any(c in text for c in '"\\') or "${" in text \
            or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise Unavailable(f"ssh clones need a data directory path ssh can read: {text!r} has a quote, a "
                          "backslash, '${' or a control character (operator: move CUMULO_DATA_DIR)")
    return '"' + text.replace("%", "%%") + '"'


def _ssh_env(work: Path, target: Target, ip: str, key: str | None, known_hosts: Path) -> dict[str, str]:
    """``GIT_SSH_COMMAND`` for one clone: the pinned address, the deploy key only, the app's known_hosts.
    File paths are quoted for ssh (``ssh_path``) and the whole command for the shell git runs it with."""
    options = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
               "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
               "-o", "ProxyCommand=none", "-o", "ProxyJump=none", "-o", "ControlMaster=no", "-o", "ControlPath=none",
               "-o", "ForwardAgent=no", "-o", "ForwardX11=no", "-o", "PermitLocalCommand=no",
               "-o", "ClearAllForwardings=yes", "-o", "UpdateHostKeys=no", "-o", "ConnectTimeout=20",
               "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={ssh_path(known_hosts)}",
               "-o", "GlobalKnownHostsFile=/dev/null", "-o", f"HostName={ip}",
               "-o", f"HostKeyAlias=[{target.host}]:{target.port}"]
    if key:
        key_file = work / "deploy_key"
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.strip().replace("\r\n", "\n") + "\n")
        options += ["-o", f"IdentityFile={ssh_path(key_file)}"]
    else:  # no default keys (~/.ssh of the server's user) either
        options += ["-o", "IdentityFile=none"]
    return {"GIT_SSH_COMMAND": "ssh " + " ".join(shlex.quote(o) for o in options), "GIT_SSH_VARIANT": "ssh"}


# the git:// connect command's relay: argv is the vetted address and port (git appends its own host
# and port, ignored); stdin/stdout are git's side of the protocol
_RELAY = """
import os, socket, sys, threading
try:
    conn = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
except OSError as exc:
    sys.exit(f"cannot connect to {sys.argv[1]} port {sys.argv[2]}: {exc}")
conn.settimeout(300)
def upstream():
    try:
        while data := os.read(0, 65536):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        os._exit(1)
threading.Thread(target=upstream, daemon=True).start()
out = sys.stdout.buffer
try:
    while data := conn.recv(65536):
        out.write(data)
        out.flush()
except OSError as exc:
    sys.exit(f"git daemon connection: {exc}")
"""


def _daemon_env(work: Path, ip: str, port: int) -> dict[str, str]:
    """``GIT_PROXY_COMMAND`` for one git:// clone: a 0700 script in ``work`` relaying to ``ip``:``port``
    only. The environment variable (not ``core.gitProxy``, whose value git splits at " for ") is taken
    whole as the program's path."""
    python = sys.executable or shutil.which("python3") or "python3"
    script = work / "git-connect"
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(fd, "w") as f:
        f.write(f"#!/bin/sh\nexec {shlex.quote(python)} -I -S -c {shlex.quote(_RELAY)} "
                f"{shlex.quote(ip)} {int(port)}\n")
    return {"GIT_PROXY_COMMAND": str(script)}


def _scrub(text: str, credential: str | None) -> str:
    if credential:
        for part in {credential, *credential.split(":", 1)} - {""}:
            text = text.replace(part, "***")
    return text


def _explain(out: str) -> str:
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in out or "Host key verification failed" in out:
        return ("the ssh server's host key is not the one this app first cloned from (refused: it may be "
                "an impostor; if the server's key really changed, recreate the app)")
    if "Permission denied (publickey" in out:
        return "the ssh server refused the deploy key (Permission denied (publickey)): check git_secret"
    return out.strip()[-300:]


def check_credential(url: str, credential: str | None) -> None:
    """400 when the secret does not fit the URL: ssh takes a private key, http(s) a token."""
    if credential is None:
        return
    if url.startswith("git://"):
        raise InvalidInput("the git:// protocol has no authentication: git_secret is for an https URL (a token) "
                           "or an ssh URL (a deploy key)")
    if is_ssh(url) and not is_key(credential):
        raise InvalidInput("an ssh git_url is cloned with a deploy key: git_secret must hold an OpenSSH "
                           "private key (-----BEGIN OPENSSH PRIVATE KEY-----)")
    if not is_ssh(url) and is_key(credential):
        raise InvalidInput("git_secret holds an ssh private key: use the repository's ssh URL as git_url")


async def fetch(platform: Platform, app: App, archive: Path, credential: str | None = None) -> str:
    """Clone ``app.git_url`` at ``app.branch`` and write its tree to ``archive``; the commit id.
    ``credential`` (from the app's ``git_secret``) authenticates this clone only."""
    assert app.git_url
    target = _parse(app.git_url)
    check_credential(app.git_url, credential)
    ip = await check(platform, app.git_url)
    work = Path(tempfile.mkdtemp(prefix="clone-", dir=archive.parent))
    try:
        if target.scheme == "ssh":
            known_hosts = git.repo_path(platform, app.id) / KNOWN_HOSTS
            env = _ssh_env(work, target, ip, credential, known_hosts)
            protocol = ["-c", "protocol.ssh.allow=always"]
        elif target.scheme == "git":
            env = _daemon_env(work, ip, target.port)
            protocol = ["-c", "protocol.git.allow=always"]
        else:
            env = _auth_env(credential)
            protocol = ["-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
                        "-c", "http.followRedirects=false", "-c", f"http.curloptResolve={target.host}:{target.port}:{ip}"]
        args = ["-c", "protocol.allow=never", *protocol,
                "clone", "--quiet", "--single-branch", "--branch", app.branch, "--no-tags",
                "--", app.git_url, str(work / "repo")]
        proc = await asyncio.create_subprocess_exec("git", *args, env=git._git_env(work) | env,
                                                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 300)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):  # git and its ssh or relay child
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise InvalidInput("cloning git_url took longer than 300 s") from None
        if proc.returncode:
            raise InvalidInput(f"cannot clone {app.git_url} (branch {app.branch}): "
                               f"{_explain(_scrub(out.decode(errors='replace'), credential))}")
        code, rev = await git._git("rev-parse", "HEAD", cwd=work / "repo")
        code2, out = await git._git("archive", "--format=tar", f"--output={archive}", "HEAD", cwd=work / "repo")
        if code or code2:
            raise InvalidInput("cannot read the cloned repository")
        return rev.decode().strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)

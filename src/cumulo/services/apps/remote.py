"""Apps deployed from a repository URL (``git_url``): cloned by the server over https or http,
through the outbound guard (loopback, this host, Docker/VPC and private networks are refused
unless the operator's ``CUMULO_OUTBOUND_ALLOW`` lets them through). Local paths, ``file://`` and
other transports are 400: they would read the server's own disk. The clone pins the vetted
address (``http.curloptResolve``) so a DNS answer that changes after the check is not followed,
and redirects are not followed.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import tempfile
from pathlib import Path

from cumulo.core.errors import InvalidInput
from cumulo.drivers.http import guard
from cumulo.platform import Platform
from cumulo.services.apps import git
from cumulo.services.apps.models import App


def _own_ports(platform: Platform) -> set[int]:
    s = platform.settings
    return {s.port, s.s3_port, s.proxy_http_port, s.proxy_https_port} - {0}


async def check(platform: Platform, url: str) -> str:
    """The address the clone may dial (400 for anything but a vetted http(s) URL)."""
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("git_url must be an https:// or http:// repository URL (local paths, file://, ssh and "
                           "git:// are not accepted)")
    _scheme, host, port = guard.check_syntax(url)
    addresses = await guard.resolve(host, port, guard.allow_list(platform.settings), own_ports=_own_ports(platform))
    return str(addresses[0])


def _auth_env(credential: str | None) -> dict[str, str]:
    """HTTP Basic for the clone through git's environment config (not argv, not a file): a bare
    token goes as the password of ``x-access-token``, ``user:password`` as written."""
    if not credential:
        return {}
    user, sep, password = credential.strip().partition(":")
    pair = f"{user}:{password}" if sep else f"x-access-token:{user}"
    header = "Authorization: Basic " + base64.b64encode(pair.encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": header}


def _scrub(text: str, credential: str | None) -> str:
    if credential:
        for part in {credential, *credential.split(":", 1)} - {""}:
            text = text.replace(part, "***")
    return text


async def fetch(platform: Platform, app: App, archive: Path, credential: str | None = None) -> str:
    """Clone ``app.git_url`` at ``app.branch`` and write its tree to ``archive``; the commit id.
    ``credential`` (from the app's ``git_secret``) authenticates this clone only."""
    assert app.git_url
    ip = await check(platform, app.git_url)
    _scheme, host, port = guard.check_syntax(app.git_url)
    work = Path(tempfile.mkdtemp(prefix="clone-", dir=archive.parent))
    try:
        args = ["-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
                "-c", "http.followRedirects=false", "-c", f"http.curloptResolve={host}:{port}:{ip}",
                "clone", "--quiet", "--single-branch", "--branch", app.branch, "--no-tags",
                "--", app.git_url, str(work / "repo")]
        proc = await asyncio.create_subprocess_exec("git", *args, env=git._git_env(work) | _auth_env(credential),
                                                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 300)
        except TimeoutError:
            proc.kill()
            raise InvalidInput("cloning git_url took longer than 300 s") from None
        if proc.returncode:
            raise InvalidInput(f"cannot clone {app.git_url} (branch {app.branch}): "
                               f"{_scrub(out.decode(errors='replace'), credential).strip()[-300:]}")
        code, rev = await git._git("rev-parse", "HEAD", cwd=work / "repo")
        code2, out = await git._git("archive", "--format=tar", f"--output={archive}", "HEAD", cwd=work / "repo")
        if code or code2:
            raise InvalidInput("cannot read the cloned repository")
        return rev.decode().strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""Each app's Git remote: a bare repository served over smart HTTP by the OS's ``git http-backend``,
with a ``pre-receive`` hook that deploys inside the push (as Heroku and Dokku do).

The hook is a small stdlib Python script. For each push the API process opens a private Unix
socket (in a 0700 directory made for that push) and passes its path to the hook through the CGI
environment; the hook writes the pushed tree of the deploy branch with ``git archive`` (capped at
``CUMULO_APPS_MAX_SOURCE_MB``), sends the ref lines, and copies everything the server answers to
its stderr, which git sends to the pushing terminal as ``remote:`` lines. The last line carries the
exit status: non-zero rejects the push (the ref is not updated, the current release keeps serving).
A hook run outside such a push (no socket) refuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from cumulo.core.errors import PayloadTooLarge
from cumulo.platform import Platform

ZERO = "0" * 40
HOOK = r'''#!{python} -I
import os, socket, subprocess, sys
sock, work, branch = os.environ.get("CUMULO_APPS_HOOK"), os.environ.get("CUMULO_APPS_DIR"), os.environ.get("CUMULO_APPS_BRANCH")
if not sock or not work:
    sys.stderr.write("pushes to this repository go through the Cumulo API\n")
    sys.exit(1)
refs = sys.stdin.read()
limit = int(os.environ.get("CUMULO_APPS_MAX_BYTES", "0"))
for line in refs.splitlines():
    old, new, ref = (line.split() + ["", "", ""])[:3]
    if ref == branch and new != "0" * 40:
        sys.stderr.write("-----> Receiving the push\n")
        sys.stderr.flush()
        with open(os.path.join(work, "source.tar"), "wb") as out:
            proc = subprocess.Popen(["git", "archive", "--format=tar", new], stdout=subprocess.PIPE)
            size = 0
            while True:
                chunk = proc.stdout.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if limit and size > limit:
                    proc.kill()
                    open(os.path.join(work, "too-large"), "w").close()
                    break
                out.write(chunk)
            proc.wait()
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(refs.encode() + b"\n\n")
status = 1
buf = b""
while True:
    data = s.recv(65536)
    if not data:
        break
    buf += data
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if line.startswith(b"\x00status "):
            status = int(line[8:])
        else:
            sys.stderr.buffer.write(line + b"\n")
            sys.stderr.flush()
sys.exit(status)
'''


def root(platform: Platform) -> Path:
    return platform.settings.data_dir / "apps" / "repos"


def repo_path(platform: Platform, app_id: str) -> Path:
    return root(platform) / f"{app_id}.git"


def _git_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "LANG": "C"}


async def _git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, bytes]:
    proc = await asyncio.create_subprocess_exec("git", *args, cwd=cwd, env=env or _git_env(cwd or Path("/")),
                                                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out


async def init(platform: Platform, app_id: str, branch: str) -> Path:
    path = repo_path(platform, app_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    code, out = await _git("init", "--bare", "--quiet", f"--initial-branch={branch}", str(path))
    if code:
        raise RuntimeError(f"git init failed: {out.decode(errors='replace')}")
    for key, value in (("http.receivepack", "true"), ("receive.denyDeletes", "true"),
                       ("receive.denyNonFastForwards", "false"),
                       ("uploadpack.allowFilter", "false")):
        await _git("config", key, value, cwd=path)
    hook = path / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(HOOK.replace("{python}", sys.executable))
    hook.chmod(0o755)
    return path


def remove(platform: Platform, app_id: str) -> None:
    shutil.rmtree(repo_path(platform, app_id), ignore_errors=True)


async def archive(platform: Platform, app_id: str, branch: str, dest: Path) -> str | None:
    """Write the tree of ``branch`` to ``dest`` (a tar); its commit id, or None when never pushed."""
    return await archive_commit(platform, app_id, f"refs/heads/{branch}", dest)


async def archive_commit(platform: Platform, app_id: str, ref: str, dest: Path) -> str | None:
    """Write the tree of the commit ``ref`` (a branch's full ref or a commit id) to ``dest`` (a tar);
    its commit id, or None when the app's repository has no such commit."""
    path = repo_path(platform, app_id)
    if not path.is_dir() or ref.startswith("-"):
        return None
    code, out = await _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=path)
    if code:
        return None
    rev = out.decode().strip()
    code, out = await _git("archive", "--format=tar", f"--output={dest}", rev, cwd=path)
    if code:
        raise RuntimeError(f"git archive failed: {out.decode(errors='replace')[:500]}")
    return rev


# --- smart HTTP through git http-backend (CGI) ------------------------------------------------------

Deploy = Callable[[str, Path, Callable[[str], None]], Awaitable[int]]


class Backend:
    """One request to ``git http-backend``: CGI headers parsed, the body streamed both ways."""

    def __init__(self, proc: asyncio.subprocess.Process, cleanup: Callable[[], None]):
        self.proc, self.cleanup = proc, cleanup
        self.status = 200
        self.headers: dict[str, str] = {}
        self._rest = b""

    async def read_headers(self) -> None:
        assert self.proc.stdout is not None
        raw = b""
        while b"\r\n\r\n" not in raw and b"\n\n" not in raw:
            chunk = await self.proc.stdout.read(4096)
            if not chunk:
                break
            raw += chunk
        sep = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
        head, _, self._rest = raw.partition(sep)
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                self.status = int(value.strip().split()[0] or 200)
            elif key:
                self.headers[key.strip()] = value.strip()

    async def body(self) -> AsyncIterator[bytes]:
        assert self.proc.stdout is not None
        try:
            if self._rest:
                yield self._rest
            while chunk := await self.proc.stdout.read(65536):
                yield chunk
            await self.proc.wait()
        finally:
            if self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
            self.cleanup()


async def serve(platform: Platform, app_id: str, branch: str, *, method: str, service_path: str, query: str,
                content_type: str, content_encoding: str | None, body: AsyncIterator[bytes], remote_user: str,
                deploy: Deploy | None, max_bytes: int) -> Backend:
    """Run ``git http-backend`` for ``/<app>.git/<service_path>``; ``deploy`` (for receive-pack) is
    called by the hook with the ref lines, the tree's tar and a log function, and returns the
    hook's exit status."""
    work = Path(_mkdtemp(platform))
    env = _git_env(work) | {
        "GIT_PROJECT_ROOT": str(root(platform)), "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": method,
        "PATH_INFO": f"/{app_id}.git/{service_path}", "QUERY_STRING": query, "CONTENT_TYPE": content_type,
        "REMOTE_USER": remote_user, "REMOTE_ADDR": "127.0.0.1", "GIT_HTTP_MAX_REQUEST_BUFFER": str(max_bytes),
        "CUMULO_APPS_DIR": str(work), "CUMULO_APPS_BRANCH": f"refs/heads/{branch}",
        "CUMULO_APPS_MAX_BYTES": str(platform.settings.apps_max_source_mb * 1024 * 1024)}
    if content_encoding:
        env["HTTP_CONTENT_ENCODING"] = content_encoding
    server: asyncio.AbstractServer | None = None
    if deploy is not None:
        sock = work / "hook.sock"
        server = await asyncio.start_unix_server(lambda r, w: _hook(r, w, work, deploy), path=str(sock))
        env["CUMULO_APPS_HOOK"] = str(sock)
    # The whole request is spooled first: the response streams while git runs, and nothing may read
    # the request at that point (Starlette's disconnect listener would take chunks of it).
    spool = work / "request"
    size = 0
    try:
        with open(spool, "wb") as fh:  # noqa: ASYNC230 - a local temp file
            async for chunk in body:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"a push is at most {max_bytes // (1024 * 1024)} MB "
                                          "(CUMULO_APPS_MAX_PUSH_MB)")
                fh.write(chunk)
    except BaseException:
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)
        raise
    env["CONTENT_LENGTH"] = str(size)
    with open(spool, "rb") as stdin:  # noqa: ASYNC230 - a local temp file
        proc = await asyncio.create_subprocess_exec("git", "http-backend", env=env, stdin=stdin,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)

    def cleanup() -> None:
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)

    backend = Backend(proc, cleanup)
    await backend.read_headers()
    return backend


def _mkdtemp(platform: Platform) -> str:
    import tempfile

    base = platform.settings.data_dir / "apps" / "tmp"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    return tempfile.mkdtemp(prefix="push-", dir=base)


async def _hook(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, work: Path, deploy: Deploy) -> None:
    status = 1
    try:
        refs = (await reader.readuntil(b"\n\n")).decode("utf-8", "replace").strip()

        def log(line: str) -> None:
            writer.write(line.replace("\x00", "").encode("utf-8", "replace"))

        if (work / "too-large").exists():
            log("-----> Push rejected: the tree is larger than CUMULO_APPS_MAX_SOURCE_MB\n")
        else:
            status = await deploy(refs, work / "source.tar", log)
    except Exception as exc:  # noqa: BLE001 - the push must end with a status, whatever happened
        writer.write(f"-----> Push rejected: {exc}\n".encode())
    finally:
        with contextlib.suppress(Exception):
            writer.write(f"\x00status {status}\n".encode())
            await writer.drain()
            writer.close()

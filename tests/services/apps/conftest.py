"""Apps tests: one SQLite server with its own Caddy for the whole directory (builds are the
expensive part: each module pushes as few apps as it can), real ``git`` pushing over HTTP, real
Docker builds on the catalogue images, requests through Caddy with the app's Host header."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tempfile
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer, test_settings
from tests.conftest import register_and_login

GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test",
           "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}


@pytest.fixture(scope="session")
def apps_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # the pip/npm download caches outlive the run (installs stay per app): a rerun downloads nothing
    cache = Path(tempfile.gettempdir()) / f"cumulo-apps-test-cache-{os.getuid()}"
    live = LiveServer(test_settings(str(tmp_path_factory.mktemp("cumulo-apps")), apps_cache_dir=str(cache),
                                    apps_drain_seconds=0.5,
                                    apps_max_file_mb=1, apps_max_source_mb=4, apps_health_seconds=30,
                                    gateway_push_seconds=0.2)).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def owner(apps_server: LiveServer) -> Iterator[Client]:
    with register_and_login(apps_server) as client:
        yield client
        for app in client.apps.list():
            client.apps.delete(app["id"])


@pytest.fixture(scope="module")
def stranger(apps_server: LiveServer) -> Iterator[Client]:
    with register_and_login(apps_server) as client:
        yield client


class Repo:
    """A local working tree pushed with the real git client to an app's remote."""

    def __init__(self, path: Path, remote: str, key: str):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        parts = urllib.parse.urlsplit(remote)
        self.remote = f"{parts.scheme}://git:{key}@{parts.netloc}{parts.path}"
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV, "HOME": str(self.path)}
        return subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=check,
                              timeout=180)

    def commit(self, files: dict[str, str | None], message: str = "change") -> None:
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def push(self, remote: str | None = None, ref: str = "main") -> subprocess.CompletedProcess[str]:
        return self.git("push", remote or self.remote, ref, check=False)


def new_repo(tmp: Path, client: Client, app: dict, files: dict[str, str]) -> Repo:
    assert client.api_key
    repo = Repo(tmp, app["git_remote"], client.api_key)
    repo.commit(files, "first")
    return repo


def error_of(client: Client, body: dict[str, str]) -> tuple[int, str]:
    """POST /apps with ``body``: the status and the error's message (the body's text if it has none)."""
    response = httpx.post(f"{client.base_url}/apps", json=body, headers=client.headers(), timeout=120)
    return response.status_code, response.json().get("error", {}).get("message", response.text)


def http_app(body: str, prelude: str = "") -> str:
    """The source of a Python app (standard library only: no dependencies to install) serving on
    ``$PORT`` the text of the expression ``body`` (a str, evaluated per request, ``os.environ`` as
    ``env``), after the module-level ``prelude``."""
    return ("import os, sys\nfrom http.server import BaseHTTPRequestHandler, HTTPServer\n" + prelude
            + "class H(BaseHTTPRequestHandler):\n    def do_GET(self):\n        env = os.environ\n"
            + f"        body = ({body}).encode()\n"
            + "        self.send_response(200)\n        self.send_header('Content-Length', str(len(body)))\n"
            + "        self.end_headers()\n        self.wfile.write(body)\n"
            + "HTTPServer(('0.0.0.0', int(os.environ['PORT'])), H).serve_forever()\n")


def through_caddy(live: LiveServer, hostname: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{live.settings.proxy_http_port}{path}", headers={"Host": hostname},
                     timeout=10)


def serves(live: LiveServer, hostname: str, text: str, path: str = "/", timeout: float = 60) -> httpx.Response:
    """Wait until Caddy answers ``hostname`` with a body containing ``text``."""
    def check() -> httpx.Response | None:
        try:
            response = through_caddy(live, hostname, path)
        except httpx.HTTPError:
            return None
        return response if response.status_code == 200 and text in response.text else None

    return eventually(check, timeout=timeout, interval=0.2, what=f"{hostname}{path} serving {text!r}")


def zip_of(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A zip of ``files``, and of ``links`` as Unix symlinks (name -> target)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()

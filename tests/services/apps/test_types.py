"""One fixture app per detected type, each pushed with the real git client and (for web apps)
reached on its subdomain through Caddy: static site, Node.js (npm dependency), Python/FastAPI,
a Procfile (web + release command), a Dockerfile, and a bot worker (no port, no route)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cumulo.client import Client
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer
from tests.services.apps.conftest import new_repo, serves, through_caddy

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("apps")]

SERVE = """import os
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ.get("ANSWER", "docker ok").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
"""

FIXTURES: dict[str, dict[str, str]] = {
    "static": {"index.html": "<h1>static ok</h1>\n", "css/site.css": "h1 { color: teal }\n"},
    "node": {
        "package.json": '{"name": "n", "version": "1.0.0", "dependencies": {"ms": "^2.1.3"}, '
                        '"scripts": {"start": "node server.js"}}',
        "server.js": "const http = require('http'); const ms = require('ms');\n"
                     "http.createServer((q, r) => r.end('node ok ' + ms(60000)))"
                     ".listen(process.env.PORT, '0.0.0.0');\n"},
    "fast": {"requirements.txt": "fastapi\n",
             "main.py": "from fastapi import FastAPI\napp = FastAPI()\n\n\n@app.get('/')\ndef root():\n"
                        "    return {'hello': 'fastapi ok'}\n"},
    "procs": {"requirements.txt": "", "hello.txt": "procfile ok\n",
              "Procfile": "web: exec python -m http.server $PORT --bind 0.0.0.0\nrelease: echo release-ran-$RELEASE\n"},
    "dock": {"Dockerfile": "FROM cumulo/python\nCOPY serve.py /srv/serve.py\nCMD [\"python3\", \"/srv/serve.py\"]\n",
             "serve.py": SERVE},
    "bot": {"bot.py": "import time\nprint('bot started', flush=True)\nwhile True:\n    time.sleep(1)\n"},
}


@pytest.fixture(scope="module")
def pushed(owner: Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Any]]:
    """Every fixture app pushed at once (one deploy lock per app: the pushes of different apps run
    side by side, so the module waits for the slowest, FastAPI's install, not for the sum)."""
    repos = {}
    for name, files in FIXTURES.items():
        app = owner.apps.create(name)
        repos[name] = (app, new_repo(tmp_path_factory.mktemp(name), owner, app, files))
    with ThreadPoolExecutor(len(repos)) as pool:
        pushes = {name: pool.submit(repo.push) for name, (_, repo) in repos.items()}
        out: dict[str, tuple[dict[str, Any], subprocess.CompletedProcess[str]]] = {
            name: (repos[name][0], push.result()) for name, push in pushes.items()}
    return out


@pytest.mark.parametrize(("name", "app_type", "path", "text"), [
    ("static", "static", "/css/site.css", "color: teal"),
    ("node", "nodejs", "/", "node ok 1m"),
    ("fast", "python", "/", '{"hello":"fastapi ok"}'),
    ("procs", "python", "/hello.txt", "procfile ok"),
    ("dock", "docker", "/", "docker ok"),
])
def test_web_apps_are_served_on_their_subdomain(apps_server: LiveServer, owner: Client, pushed: dict[str, Any],
                                                name: str, app_type: str, path: str, text: str) -> None:
    app, push = pushed[name]
    assert push.returncode == 0, push.stderr
    assert f"remote: -----> {app_type} app detected" in push.stderr
    serves(apps_server, app["subdomain"], text, path)
    assert owner.apps.get(name)["app_type"] == app_type


def test_static_site_root(apps_server: LiveServer, pushed: dict[str, Any]) -> None:
    app, _ = pushed["static"]
    assert "static ok" in serves(apps_server, app["subdomain"], "static ok").text


def test_procfile_release_command_runs_before_the_switch(pushed: dict[str, Any]) -> None:
    _, push = pushed["procs"]
    assert "Running release command: echo release-ran-$RELEASE" in push.stderr
    assert "release-ran-v1" in push.stderr
    assert push.stderr.index("release-ran-v1") < push.stderr.index("v1 is live")


def test_fastapi_gets_uvicorn(pushed: dict[str, Any]) -> None:
    _, push = pushed["fast"]
    assert "(fastapi)" in push.stderr and "uvicorn main:app" in push.stderr
    # pip does not check the server's own packages against the app's (it printed them in the log)
    assert "dependency resolver does not currently take into account" not in push.stderr


def test_a_bot_is_a_worker_without_a_route(apps_server: LiveServer, owner: Client, pushed: dict[str, Any]) -> None:
    app, push = pushed["bot"]
    assert push.returncode == 0, push.stderr
    assert "telegram-bot app detected" in push.stderr and "worker: exec python bot.py" in push.stderr
    info = owner.apps.get("bot")
    assert info["status"] == "running" and info["url"] is None
    eventually(lambda: "bot started" in owner.apps.logs("bot"), timeout=30, what="the bot's output in its logs")
    assert through_caddy(apps_server, app["subdomain"]).status_code != 200

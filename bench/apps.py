"""Push-to-serving time of apps against the hand path, in the same run (issue 17).

Fixtures: a Flask app (requirements.txt: flask) and a Node.js app (package.json: express).
For each fixture and round (interleaved, so both paths see the same machine load):
- Cumulo cold: create an app (no dependency cache), `git push` (real git, smart HTTP) until the
  new code answers through Caddy on the app's subdomain.
- Cumulo code-only: change one line, push again, until the new code answers.
- Hand cold: what a user does by hand on this machine (the catalogue images have no pip/npm):
  `pip install --target deps` / `npm install` into a fresh directory, `docker build --no-cache` of an
  equivalent Dockerfile on the same catalogue image, `docker run -d -p 0:5000`, until HTTP answers.
- Hand rebuild: the same script after the same one-line change (dependencies installed again into
  the kept directory, Docker's layer cache used), the new container started and the old one removed.

Usage: flock /tmp/bench.lock .venv/bin/python bench/apps.py [--rounds 2] [--warmup 1]
Targets: cold within 1.2x of the hand path; code-only redeploy at least 2x faster than the hand rebuild.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cumulo.client import Client
from cumulo.testing.server import LiveServer, test_settings

PASSWORD = "Bench-passw0rd"
FLASK = "from flask import Flask\napp = Flask(__name__)\n\n\n@app.get('/')\ndef index():\n    return 'MARK'\n"
NODE = ("const express = require('express'); const app = express();\n"
        "app.get('/', (q, r) => r.send('MARK'));\napp.listen(process.env.PORT || 5000, '0.0.0.0');\n")
FIXTURES = {
    "python": ({"requirements.txt": "flask\n", "app.py": FLASK}, "app.py"),
    "node": ({"package.json": '{"name": "b", "version": "1.0.0", "dependencies": {"express": "^4.19.2"}, '
                              '"scripts": {"start": "node server.js"}}', "server.js": NODE}, "server.js"),
}
HAND = {
    "python": "FROM cumulo/python\nWORKDIR /app\nCOPY deps/ /opt/deps/\nENV PYTHONPATH=/opt/deps\nCOPY app.py /app/\n"
              'CMD ["python3", "-m", "gunicorn", "--bind", "0.0.0.0:5000", "app:app"]\n',
    "node": "FROM cumulo/node\nWORKDIR /app\nCOPY node_modules/ /app/node_modules/\nCOPY server.js /app/\n"
            'CMD ["node", "server.js"]\n',
}
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com", "GIT_TERMINAL_PROMPT": "0"}


def run(args: list[str], cwd: Path, **kw: object) -> str:
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(args, check=False, cwd=cwd, env=env, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if out.returncode:
        raise RuntimeError(f"{args[:3]} failed: {out.stderr[-1500:]}")
    return str(out.stdout)


def wait_text(url: str, text: str, host: str | None = None, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                r = http.get(url, headers={"Host": host} if host else None)
                if r.status_code == 200 and text in r.text:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"{url} never served {text!r}")


def write(path: Path, files: dict[str, str], mark: str, code: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text.replace("MARK", mark) if name == code else text)


def new_app(client: Client, kind: str, name: str, repo: Path, mark: str) -> tuple[dict[str, Any], str]:
    """An app and a committed working tree of the ``kind`` fixture saying ``mark``; (the app, its
    remote URL with the key)."""
    files, code = FIXTURES[kind]
    app = client.apps.create(name)
    write(repo, files, mark, code)
    parts = urllib.parse.urlsplit(app["git_remote"])
    remote = f"{parts.scheme}://b:{client.api_key}@{parts.netloc}{parts.path}"
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "one"], repo)
    return app, remote


def cumulo_round(live: LiveServer, client: Client, kind: str, n: int, work: Path) -> tuple[float, float]:
    files, code = FIXTURES[kind]
    repo = work / f"c-{kind}-{n}"
    app, remote = new_app(client, kind, f"b{kind[:2]}{n}-{os.getpid() % 1000}", repo, f"cold-{n}")
    url = f"http://127.0.0.1:{live.settings.proxy_http_port}/"
    started = time.monotonic()
    run(["git", "push", "-q", remote, "main"], repo)
    wait_text(url, f"cold-{n}", app["subdomain"])
    cold = time.monotonic() - started
    write(repo, files, f"warm-{n}", code)
    run(["git", "commit", "-qam", "two"], repo)
    started = time.monotonic()
    run(["git", "push", "-q", remote, "main"], repo)
    wait_text(url, f"warm-{n}", app["subdomain"])
    warm = time.monotonic() - started
    client.apps.delete(app["id"])
    return cold, warm


def hand_build(kind: str, path: Path, tag: str, no_cache: bool) -> str:
    if kind == "python":
        shutil.rmtree(path / "deps", ignore_errors=True)
        run(["pip3", "install", "-q", "--target", "deps", "--only-binary=:all:", "flask", "gunicorn"], path)
    else:
        run(["npm", "install", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund", "-q"], path)
    run(["docker", "build", "-q", *(["--no-cache"] if no_cache else []), "-t", tag, "."], path)
    cid = run(["docker", "run", "-d", "--label", "cumulo.bench=apps", "-p", "127.0.0.1:0:5000", tag], path).strip()
    port = run(["docker", "port", cid, "5000/tcp"], path).strip().rsplit(":", 1)[1]
    return f"{cid} {port}"


def hand_round(kind: str, n: int, work: Path) -> tuple[float, float]:
    files, code = FIXTURES[kind]
    path = work / f"h-{kind}-{n}"
    write(path, files, f"cold-{n}", code)
    (path / "Dockerfile").write_text(HAND[kind])
    (path / ".dockerignore").write_text(".git\n")
    tag = f"bench-apps-{kind}:{n}"
    started = time.monotonic()
    cid, port = hand_build(kind, path, tag, no_cache=True).split()
    wait_text(f"http://127.0.0.1:{port}/", f"cold-{n}")
    cold = time.monotonic() - started
    write(path, files, f"warm-{n}", code)
    started = time.monotonic()
    new, port = hand_build(kind, path, tag, no_cache=False).split()
    wait_text(f"http://127.0.0.1:{port}/", f"warm-{n}")
    run(["docker", "rm", "-f", cid], path)
    warm = time.monotonic() - started
    run(["docker", "rm", "-f", new], path)
    subprocess.run(["docker", "rmi", "-f", tag], check=False, capture_output=True)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1, help="rounds not counted: they fill the server's pip/npm "
                        "download caches, as the host's are for the hand path")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-apps-"))
    live = LiveServer(test_settings(str(work / "data"))).start()
    results: dict[str, dict[str, list[float]]] = {}
    try:
        client = Client(live.url)
        email = f"bench{os.getpid()}@example.com"
        client.identity.register(email, PASSWORD, "Bench")
        client.identity.login(email, PASSWORD)
        for n in range(args.warmup):
            for kind in FIXTURES:
                first = cumulo_round(live, client, kind, 100 + n, work), hand_round(kind, 100 + n, work)
                print("warm-up", kind, [round(v, 2) for pair in first for v in pair], flush=True)
        for n in range(args.rounds):
            for kind in FIXTURES:
                r = results.setdefault(kind, {"cumulo cold": [], "cumulo code-only": [], "hand cold": [],
                                              "hand rebuild": []})
                cold, warm = cumulo_round(live, client, kind, n, work)
                r["cumulo cold"].append(cold)
                r["cumulo code-only"].append(warm)
                cold, warm = hand_round(kind, n, work)
                r["hand cold"].append(cold)
                r["hand rebuild"].append(warm)
                print(kind, n, {k: round(v[-1], 2) for k, v in r.items()}, flush=True)
    finally:
        live.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| fixture | Cumulo cold | hand cold | ratio | Cumulo code-only | hand rebuild | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        print(f"| {kind} | {med['cumulo cold']:.2f} s | {med['hand cold']:.2f} s | "
              f"{med['cumulo cold'] / med['hand cold']:.2f}x | {med['cumulo code-only']:.2f} s | "
              f"{med['hand rebuild']:.2f} s | {med['hand rebuild'] / med['cumulo code-only']:.2f}x |")


if __name__ == "__main__":
    main()

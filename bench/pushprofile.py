"""Where a push's time goes: each ``remote:`` line of a cold and a code-only push, stamped with the
time since the push began at the pushing end, and the time until the new text answers through Caddy.

Usage: flock /tmp/bench.lock .venv/bin/python bench/pushprofile.py [--kind python|node] [--rounds 2]
(the first round fills the server's download caches, as in ``bench/apps.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apps import FIXTURES, GIT_ENV, PASSWORD, new_app, run, wait_text, write
from cumulo.client import Client
from cumulo.testing.server import LiveServer, test_settings


def timed_push(repo: Path, remote: str, url: str, host: str, text: str) -> None:
    started = time.monotonic()
    proc = subprocess.Popen(["git", "push", "--progress", remote, "main"], cwd=repo, env={**os.environ, **GIT_ENV},
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, bufsize=1)
    assert proc.stderr is not None
    for line in proc.stderr:
        print(f"  {time.monotonic() - started:6.2f}  {line.rstrip()[:110]}")
    proc.wait()
    print(f"  {time.monotonic() - started:6.2f}  (git push exited {proc.returncode})")
    wait_text(url, text, host)
    print(f"  {time.monotonic() - started:6.2f}  serving through Caddy")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=sorted(FIXTURES), default="node")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    live = LiveServer(test_settings(str(work / "data"))).start()
    try:
        client = Client(live.url)
        email = f"prof{os.getpid()}@example.com"
        client.identity.register(email, PASSWORD, "Prof")
        client.identity.login(email, PASSWORD)
        files, code = FIXTURES[args.kind]
        url = f"http://127.0.0.1:{live.settings.proxy_http_port}/"
        for n in range(args.rounds):
            repo = work / f"r{n}"
            app, remote = new_app(client, args.kind, f"p{args.kind[:2]}{n}", repo, f"cold-{n}")
            print(f"round {n}, cold")
            timed_push(repo, remote, url, app["subdomain"], f"cold-{n}")
            write(repo, files, f"warm-{n}", code)
            run(["git", "commit", "-qam", "two"], repo)
            print(f"round {n}, code-only")
            timed_push(repo, remote, url, app["subdomain"], f"warm-{n}")
            client.apps.delete(app["id"])
    finally:
        live.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

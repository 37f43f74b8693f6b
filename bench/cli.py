"""CLI start-up time (issue 13: under 0.3 s for ``cumulo --help`` and simple commands).

Runs each command N times as a fresh process (hyperfine when installed, else a timed loop) and
prints mean, median and min wall time and the mean CPU time (user + system). ``--src DIR`` measures another checkout's ``src`` with this
virtualenv (e.g. a worktree of the commit before the lazy imports), side by side in the same run.

The first commands are those of a user who is not logged in and has no server; then (unless
``--no-server``) a live server (SQLite, no background workers) is started in this process and the
simple commands of a logged-in user run against it: ``whoami`` and ``instances list`` (one request
each, the server's answer included).

    flock /tmp/bench.lock .venv/bin/python bench/cli.py [--runs 20] [--src /tmp/old/src]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [["--help"], ["version"], ["whoami"], ["queues", "--help"], ["--json", "health"]]
SERVER_COMMANDS = [["whoami"], ["instances", "list"], ["--json", "queues", "list"]]


def _env(src: Path, config: str, url: str = "http://127.0.0.1:9", api_key: str = "") -> dict[str, str]:
    # health: no server listens there, so the command is start-up, one refused connection and the message
    # as a user runs it: Python keeps the .pyc of our own modules (some shells here set PYTHONDONTWRITEBYTECODE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(src), "XDG_CONFIG_HOME": config, "CUMULO_API_KEY": api_key,
            "CUMULO_URL": url}


@contextlib.contextmanager
def _server() -> Iterator[tuple[str, str]]:
    """A live server (SQLite, no background workers) and the API key of a new user of it."""
    from cumulo.client import Client
    from cumulo.testing.server import LiveServer, test_settings

    with tempfile.TemporaryDirectory() as data:
        live = LiveServer(test_settings(data), workers=False).start()
        try:
            with Client(live.url) as c:
                email = f"bench-{os.getpid()}@example.com"
                c.identity.register(email, "bench-Passw0rd!", "Bench")
                c.identity.login(email, "bench-Passw0rd!")
                assert c.identity.me()["email"] == email and c.instances.list() == []
                yield live.url, c.api_key or ""
        finally:
            live.stop()


def _argv(args: list[str]) -> list[str]:
    return [sys.executable, "-c", "import sys; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'; app()", *args]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _loop(args: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (user + system) of each run: CPU time barely moves when other work
    shares the machine, wall time does."""
    walls, cpus = [], []
    for _ in range(runs + 1):
        started, cpu = time.perf_counter(), _cpu()
        subprocess.run(_argv(args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    return walls[1:], cpus[1:]  # the first run warms the page cache


def _hyperfine(args: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = " ".join(f"'{a}'" for a in _argv(args))
        subprocess.run(["hyperfine", "-N", "-i", "--warmup", "2", "--runs", str(runs), "--export-json", out.name,
                        command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        result = json.loads(Path(out.name).read_text())["results"][0]
        return list(result["times"]), [result["user"] + result["system"]] * len(result["times"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--src", action="append", default=[], help="another src folder to compare")
    parser.add_argument("--no-server", action="store_true", help="skip the commands against a live server")
    opts = parser.parse_args()
    measure = _hyperfine if shutil.which("hyperfine") else _loop
    print(f"load average {os.getloadavg()[0]:.2f}; {opts.runs} runs each; {measure.__name__.strip('_')}")
    with tempfile.TemporaryDirectory() as config, \
            (contextlib.nullcontext(None) if opts.no_server else _server()) as server:
        for src in [ROOT / "src", *map(Path, opts.src)]:
            print(f"\n{src}")
            print(f"{'command':<34} {'wall mean':>10} {'median':>8} {'min':>8} {'cpu mean':>9}")
            runs = [(args, _env(src, config), "") for args in COMMANDS]
            if server:
                runs += [(args, _env(src, config, *server), " (server)") for args in SERVER_COMMANDS]
            for args, env, where in runs:
                if where:  # against the server the command must work, or its time means nothing
                    done = subprocess.run(_argv(args), env=env, capture_output=True, text=True, check=False)
                    if done.returncode:
                        raise SystemExit(f"cumulo {' '.join(args)} failed: {done.stderr or done.stdout}")
                walls, cpus = measure(args, env, opts.runs)
                label = " ".join(args) + where
                print(f"cumulo {label:<27} {statistics.mean(walls):10.3f} {statistics.median(walls):8.3f} "
                      f"{min(walls):8.3f} {statistics.mean(cpus):9.3f}")
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

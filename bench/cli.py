"""CLI start-up time (issue 13: under 0.3 s for ``cumulo --help`` and simple commands).

Runs each command N times as a fresh process (hyperfine when installed, else a timed loop) and
prints mean, median and min wall time and the mean CPU time (user + system). ``--src DIR`` measures another checkout's ``src`` with this
virtualenv (e.g. a worktree of the commit before the lazy imports), side by side in the same run.

    flock /tmp/bench.lock .venv/bin/python bench/cli.py [--runs 20] [--src /tmp/old/src]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [["--help"], ["version"], ["whoami"], ["queues", "--help"], ["--json", "health"]]


def _env(src: Path, config: str) -> dict[str, str]:
    # health: no server listens there, so the command is start-up, one refused connection and the message
    # as a user runs it: Python keeps the .pyc of our own modules (some shells here set PYTHONDONTWRITEBYTECODE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(src), "XDG_CONFIG_HOME": config, "CUMULO_API_KEY": "",
            "CUMULO_URL": "http://127.0.0.1:9"}


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
    opts = parser.parse_args()
    measure = _hyperfine if shutil.which("hyperfine") else _loop
    print(f"load average {os.getloadavg()[0]:.2f}; {opts.runs} runs each; {measure.__name__.strip('_')}")
    with tempfile.TemporaryDirectory() as config:
        for src in [ROOT / "src", *map(Path, opts.src)]:
            print(f"\n{src}")
            print(f"{'command':<28} {'wall mean':>10} {'median':>8} {'min':>8} {'cpu mean':>9}")
            for args in COMMANDS:
                walls, cpus = measure(args, _env(src, config), opts.runs)
                print(f"cumulo {' '.join(args):<21} {statistics.mean(walls):10.3f} {statistics.median(walls):8.3f} "
                      f"{min(walls):8.3f} {statistics.mean(cpus):9.3f}")


if __name__ == "__main__":
    main()

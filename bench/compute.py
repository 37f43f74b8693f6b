"""Instance launch latency: `POST /instances` against raw `docker run -d`, same image, same run.

For each of N rounds (interleaved, so both see the same machine load):
- Cumulo: POST /instances (busybox httpd, ports "0:80") -> the answer is RUNNING ("running"),
  then HTTP 200 from the published port ("answering"); then DELETE.
- Peer: `docker run -d` with the same image, command and limits (--cpus, --memory, --pids-limit,
  --init) on a host port chosen beforehand (the peer's best case: no port lookup) -> the CLI returns
  ("running"), then HTTP 200 ("answering"); then `docker rm -f`.

Usage: .venv/bin/python bench/compute.py [--rounds 20] [--postgres URL]
Target (issue 3): median within 1.3x of raw `docker run`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import cumulo_api, free_port

PASSWORD = "Bench-passw0rd"
IMAGE = "cumulo/busybox"
COMMAND = ["httpd", "-f", "-p", "80", "-h", "/var/www"]


def answering(port: int, started: float, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            try:
                if http.get(f"http://127.0.0.1:{port}/").status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
    raise RuntimeError(f"port {port} never answered")


def cumulo_round(api: httpx.Client, i: int) -> tuple[float, float]:
    started = time.monotonic()
    inst = api.post("/instances", json={"name": f"bench-{i}", "image": IMAGE, "ports": "0:80", "command": COMMAND})
    inst.raise_for_status()
    body = inst.json()
    running = time.monotonic() - started
    assert body["status"] == "RUNNING", body
    ready = answering(int(body["ports"].split(":")[0]), started)
    api.delete(f"/instances/{body['id']}").raise_for_status()
    return running, ready


def docker_round(i: int) -> tuple[float, float]:
    port = free_port()
    started = time.monotonic()
    cid = subprocess.run(["docker", "run", "-d", "--cpus", "1", "--memory", "512m", "--memory-swap", "512m",
                          "--pids-limit", "512", "--init", "--label", "cumulo.bench=1", "-p", f"0.0.0.0:{port}:80",
                          IMAGE, *COMMAND], capture_output=True, text=True, check=True).stdout.strip()
    running = time.monotonic() - started
    ready = answering(port, started)
    subprocess.run(["docker", "rm", "-f", cid], capture_output=True, check=True)
    return running, ready


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    return f"median {statistics.median(values) * 1000:6.0f} ms  p90 {p90 * 1000:6.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", default=None, help="database URL (default: SQLite)")
    args = parser.parse_args()
    with cumulo_api(args.postgres) as url:
        httpx.post(f"{url}/auth/register", json={"email": "bench@example.com", "password": PASSWORD, "name": "B"})
        key = httpx.post(f"{url}/auth/login", json={"email": "bench@example.com", "password": PASSWORD}).json()[
            "api_key"]
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as api:
            cumulo_round(api, -1), docker_round(-1)  # warm-up: first container start, imports, caches
            ours: list[tuple[float, float]] = []
            theirs: list[tuple[float, float]] = []
            for i in range(args.rounds):
                ours.append(cumulo_round(api, i))
                theirs.append(docker_round(i))
    rows = [("POST /instances -> RUNNING", [o[0] for o in ours], "docker run -d -> returned", [t[0] for t in theirs]),
            ("POST /instances -> port answers", [o[1] for o in ours], "docker run -d -> port answers",
             [t[1] for t in theirs])]
    print(f"{args.rounds} launches each, {IMAGE} httpd, database {'PostgreSQL' if args.postgres else 'SQLite'}")
    for ours_name, ours_values, peer_name, peer_values in rows:
        ratio = statistics.median(ours_values) / statistics.median(peer_values)
        print(f"  {ours_name:34s} {summary(ours_values)}")
        print(f"  {peer_name:34s} {summary(peer_values)}")
        print(f"  ratio of medians: {ratio:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()

"""Function invocation latency: Cumulo's warm pool vs a fresh `docker run` per invocation
(upstream's model), side by side in the same run on the same image and handler.

- cold: create a new function, then time its first invoke (HTTP round trip included);
- warm: sequential invokes of one function (HTTP round trip included);
- peer: `docker run --rm --network none` of cumulo/python running the same handler once.

Usage: .venv/bin/python bench/functions.py [--cold 10] [--warm 300] [--peer 10]
Targets (issue 6): warm p50 < 10 ms, cold p50 < 1 s.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import cumulo_api

HANDLER = "def handler(event, context):\n    return {'ok': True, 'echo': event}\n"
PASSWORD = "Bench-passw0rd"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 2), "p99_ms": round(pct(values, 0.99), 2),
            "min_ms": round(min(values), 2)}


def code_zip() -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("main.py", HANDLER)
    return base64.b64encode(buf.getvalue()).decode()


def peer_runs(count: int, image: str) -> list[float]:
    with tempfile.TemporaryDirectory() as code:
        Path(code, "main.py").write_text(HANDLER)
        Path(code).chmod(0o755)
        times = []
        for _ in range(count):
            start = time.perf_counter()
            subprocess.run(["docker", "run", "--rm", "--network", "none", "--read-only", "-v", f"{code}:/var/task:ro",
                            "-w", "/var/task", "--memory", "128m", image, "python3", "-c",
                            "import json, main; print(json.dumps(main.handler({'i': 1}, None)))"],
                           check=True, capture_output=True)
            times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--peer", type=int, default=10)
    parser.add_argument("--image", default="cumulo/python")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with cumulo_api() as url, httpx.Client(base_url=url, timeout=120) as http:
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        http.post("/auth/register", json={"email": email, "password": PASSWORD, "name": "Bench"}).raise_for_status()
        key = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
        http.headers["X-API-Key"] = key
        zipped = code_zip()
        cold = []
        for i in range(args.cold):
            fn = http.post("/functions", json={"name": f"cold-{i}", "runtime": "python", "code_zip": zipped}).json()
            start = time.perf_counter()
            out = http.post(f"/functions/{fn['id']}/invoke", json={"payload": {"i": i}}).json()
            cold.append((time.perf_counter() - start) * 1000)
            assert out["status"] == "SUCCESS" and out["cold_start"], out
            http.delete(f"/functions/{fn['id']}")
        results["cumulo_cold"] = summary(cold)
        fn = http.post("/functions", json={"name": "warm", "runtime": "python", "code_zip": zipped}).json()
        http.post(f"/functions/{fn['id']}/invoke", json={"payload": {}}).raise_for_status()
        warm = []
        for i in range(args.warm):
            start = time.perf_counter()
            out = http.post(f"/functions/{fn['id']}/invoke", json={"payload": {"i": i}}).json()
            warm.append((time.perf_counter() - start) * 1000)
            assert out["status"] == "SUCCESS", out
        results["cumulo_warm"] = summary(warm)
    results["docker_run_per_call"] = summary(peer_runs(args.peer, args.image))
    peer = results["docker_run_per_call"]["p50_ms"]
    results["ratios"] = {"peer_p50_over_warm_p50": round(peer / results["cumulo_warm"]["p50_ms"], 1),
                         "peer_p50_over_cold_p50": round(peer / results["cumulo_cold"]["p50_ms"], 2)}
    print(json.dumps(results, indent=2))
    out = Path(__file__).resolve().parent / "results" / "functions.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

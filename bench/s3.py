"""S3 throughput: Cumulo's S3 endpoint vs moto_server, same boto3 client code, same run, plus a plain
file copy on the same disk as the physical limit.

- large: PUT and GET of 64 MiB objects (MiB/s, one client, several rounds);
- small: PUT and GET of 4 KiB objects by 16 concurrent clients (4 processes x 4 threads; ops/s);
- memory (``--big-gib N``): one streamed N GiB PUT to Cumulo (presigned URL, body generated on the fly),
  reporting how much the server's peak RSS grew.

Usage:  .venv/bin/python bench/s3.py [--rounds 5] [--small 4000] [--big-gib 2] [--postgres URL]
Targets (issue 4): small-object ops/s >= 5x moto; large-object MiB/s >= 50% of the disk copy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import VENV_BIN, free_port, process

MiB = 1024 * 1024
PROCS, THREADS = 4, 4
RESULTS = Path(__file__).resolve().parent / "results" / "s3.json"
_CLIENTS: dict[str, Any] = {}


def s3_client(endpoint: str, key: str, secret: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=THREADS * 2,
                                      retries={"max_attempts": 1}, **config))


@contextmanager
def cumulo(database_url: str | None) -> Iterator[dict[str, Any]]:
    port, s3_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="cumulo-bench-s3-", dir=str(Path(__file__).resolve().parent.parent))
    env = {"CUMULO_RATE_LIMIT": "100000000/minute", "CUMULO_AUTH_RATE_LIMIT": "100000/minute",
           "CUMULO_LOG_LEVEL": "warning"}
    if database_url:
        env["CUMULO_DATABASE_URL"] = database_url
    try:
        with process([str(VENV_BIN / "cumulo"), "up", "--port", str(port), "--s3-port", str(s3_port),
                      "--data-dir", data_dir], f"http://127.0.0.1:{port}/health/live", env) as proc:
            api = f"http://127.0.0.1:{port}"
            email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
            httpx.post(f"{api}/auth/register", json={"email": email, "password": "Bench-passw0rd", "name": "b"})
            key = httpx.post(f"{api}/auth/login", json={"email": email, "password": "Bench-passw0rd"}).json()["api_key"]
            creds = httpx.post(f"{api}/storage/credentials", headers={"X-API-Key": key}, json={}).json()
            yield {"endpoint": f"http://127.0.0.1:{s3_port}", "key": creds["access_key_id"],
                   "secret": creds["secret_access_key"], "pid": proc.pid, "data_dir": data_dir}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextmanager
def moto() -> Iterator[dict[str, Any]]:
    port = free_port()
    with process([str(VENV_BIN / "moto_server"), "-p", str(port)], f"http://127.0.0.1:{port}/moto-api/") as proc:
        yield {"endpoint": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing", "pid": proc.pid}


# --- large objects ------------------------------------------------------------------------------

def large_round(target: dict[str, Any], bucket: str, i: int, payload: bytes) -> tuple[float, float]:
    """One PUT and one GET of ``payload``; seconds for each."""
    if target["endpoint"] not in _CLIENTS:
        _CLIENTS[target["endpoint"]] = s3_client(target["endpoint"], target["key"], target["secret"])
    s3 = _CLIENTS[target["endpoint"]]
    t = time.perf_counter()
    s3.put_object(Bucket=bucket, Key=f"large-{i}", Body=payload)
    put_s = time.perf_counter() - t
    t = time.perf_counter()
    body = s3.get_object(Bucket=bucket, Key=f"large-{i}")["Body"]
    size = 0
    while chunk := body.read(MiB):
        size += len(chunk)
    assert size == len(payload)
    return put_s, time.perf_counter() - t


def raw_put_round(target: dict[str, Any], bucket: str, i: int, payload: bytes) -> float:
    """A presigned (UNSIGNED-PAYLOAD) PUT sent by httpx: the client does no hashing, so this is the
    server's ingest rate."""
    s3 = _CLIENTS[target["endpoint"]]
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"raw-{i}"}, ExpiresIn=600)
    t = time.perf_counter()
    httpx.put(url, content=payload, timeout=600).raise_for_status()
    return time.perf_counter() - t


def curl_put_round(target: dict[str, Any], bucket: str, i: int, src: Path, streams: int = 1) -> float:
    """``streams`` concurrent presigned PUTs of the file ``src`` sent by curl (a C client streaming
    from the page cache: the client costs next to nothing); seconds until the last one ends."""
    import subprocess

    s3 = _CLIENTS[target["endpoint"]]
    urls = [s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": f"curl-{i}-{n}"},
                                      ExpiresIn=600) for n in range(streams)]
    t = time.perf_counter()
    procs = [subprocess.Popen(["curl", "-sS", "-f", "-o", "/dev/null", "-H", "Expect:", "-T", str(src), url])
             for url in urls]
    for proc in procs:
        assert proc.wait() == 0, "curl PUT failed"
    return time.perf_counter() - t


def parallel_copies(folder: Path, src: Path, i: int, streams: int) -> float:
    """``streams`` fsynced copies at once (threads: file I/O releases the GIL)."""
    t = time.perf_counter()
    threads = [threading.Thread(target=copy_round, args=(folder, src, i * 100 + n)) for n in range(streams)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t


def copy_round(folder: Path, src: Path, i: int) -> float:
    """Copy a file of the same size on the same disk, fsynced (Cumulo fsyncs before an object is visible)."""
    dst = folder / f"dst-{i}"
    t = time.perf_counter()
    with src.open("rb") as fin, dst.open("wb") as fout:
        shutil.copyfileobj(fin, fout, MiB)
        fout.flush()
        os.fsync(fout.fileno())
    elapsed = time.perf_counter() - t
    dst.unlink()
    return elapsed


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def large_interleaved(targets: dict[str, dict[str, Any]], buckets: dict[str, str], rounds: int,
                      payload: bytes) -> dict[str, Any]:
    """Rounds alternate disk copy / each server, so load changes on the shared machine hit all alike."""
    folder = Path(tempfile.mkdtemp(prefix="bench-copy-", dir=str(Path(__file__).resolve().parent.parent)))
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
    raw: dict[str, list[float]] = {name: [] for name in targets}
    curl: dict[str, list[float]] = {name: [] for name in targets}
    curl2: dict[str, list[float]] = {name: [] for name in targets}
    copies: list[float] = []
    copies2: list[float] = []
    try:
        src = folder / "src"
        src.write_bytes(payload)
        for i in range(rounds):
            copies.append(copy_round(folder, src, i))
            copies2.append(parallel_copies(folder, src, i, 2))
            for name, target in targets.items():
                times[name].append(large_round(target, buckets[name], i, payload))
                raw[name].append(raw_put_round(target, buckets[name], i, payload))
                curl[name].append(curl_put_round(target, buckets[name], i, src))
                curl2[name].append(curl_put_round(target, buckets[name], i, src, streams=2))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    mib = len(payload) / MiB
    out: dict[str, Any] = {"disk_copy_mib_s": mib / median(copies), "disk_copy_2_streams_mib_s": 2 * mib / median(copies2)}
    for name, pairs in times.items():
        out[name] = {"put_mib_s": mib / median([p for p, _ in pairs]), "get_mib_s": mib / median([g for _, g in pairs]),
                     "raw_put_mib_s": mib / median(raw[name]), "curl_put_mib_s": mib / median(curl[name]),
                     "curl_put_2_streams_mib_s": 2 * mib / median(curl2[name])}
    return out


# --- small objects ------------------------------------------------------------------------------

def _small_worker(target: dict[str, Any], bucket: str, op: str, keys: list[str], go: Any) -> None:
    s3 = s3_client(target["endpoint"], target["key"], target["secret"])
    body = os.urandom(4096)
    s3.list_objects_v2(Bucket=bucket, MaxKeys=1)  # warm the connection pool
    go.wait()

    def run(part: list[str]) -> None:
        for key in part:
            if op == "put":
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            else:
                assert len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == 4096

    threads = [threading.Thread(target=run, args=(keys[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def small(target: dict[str, Any], bucket: str, count: int) -> dict[str, float]:
    keys = [f"small/{i:07d}" for i in range(count)]
    out = {}
    for op in ("put", "get"):
        go = mp.Barrier(PROCS + 1)
        procs = [mp.Process(target=_small_worker, args=(target, bucket, op, keys[i::PROCS], go)) for i in range(PROCS)]
        for p in procs:
            p.start()
        go.wait()
        t = time.perf_counter()
        for p in procs:
            p.join()
            assert p.exitcode == 0, f"{op} worker failed"
        out[f"{op}_ops_s"] = count / (time.perf_counter() - t)
    return out


# --- small objects, server-bound: wrk replaying presigned URLs --------------------------------------

WRK_SCRIPT = """
local paths, body, method = {}, string.rep("x", 4096), os.getenv("BENCH_METHOD")
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
function request()
  i = i % #paths + 1
  if method == "PUT" then return wrk.format("PUT", paths[i], {["Content-Length"] = "4096"}, body) end
  return wrk.format("GET", paths[i])
end
"""


def small_wrk(target: dict[str, Any], bucket: str, count: int, seconds: int) -> dict[str, float]:
    """16 connections replaying presigned (SigV4) URLs: the client costs next to nothing, so this
    measures the servers. Every PUT/GET is still authenticated by its signature."""

    s3 = s3_client(target["endpoint"], target["key"], target["secret"], signature_version="s3v4")
    out: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    try:
        script = folder / "replay.lua"
        script.write_text(WRK_SCRIPT)
        written = count
        for op, method in (("put", "put_object"), ("get", "get_object")):
            paths = folder / f"{op}.txt"
            with paths.open("w") as fh:
                for i in range(written):  # GETs only ask for keys the PUT phase wrote
                    url = s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": f"w/{i:07d}"},
                                                    ExpiresIn=3600)
                    fh.write(url.split(str(target["endpoint"]), 1)[1] + "\n")
            os.environ.update(BENCH_METHOD=op.upper(), BENCH_PATHS=str(paths))
            result = wrk_script(target["endpoint"] + "/", script, seconds)
            out[f"{op}_ops_s"], out[f"{op}_p50_ms"], out[f"{op}_errors"] = result
            written = max(1, min(count, int(result[0] * seconds * 0.9)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def wrk_script(url: str, script: Path, seconds: int) -> tuple[float, float, float]:
    import re
    import subprocess

    out = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)", out, re.MULTILINE)
    p50_ms = float(p50.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50_ms, float(errors.group(1)) if errors else 0.0


# --- memory on a huge streamed upload ------------------------------------------------------------

def rss_peak_kib(pid: int) -> int:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total = max(total, int(line.split()[1]))
        except OSError:
            pass
    return total


def rss_now_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def big_upload(target: dict[str, Any], bucket: str, gib: int) -> dict[str, float]:
    s3 = s3_client(target["endpoint"], target["key"], target["secret"])
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "huge"}, ExpiresIn=3600)
    block = os.urandom(MiB)
    size = gib * 1024 * MiB
    before = rss_now_kib(target["pid"])
    samples = [before]
    done = threading.Event()

    def sample() -> None:  # VmHWM also counts the start-up peak: sample VmRSS during the upload instead
        while not done.wait(0.02):
            samples.append(rss_now_kib(target["pid"]))

    sampler = threading.Thread(target=sample)
    sampler.start()

    def body() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield block

    t = time.perf_counter()
    try:
        response = httpx.put(url, content=body(), headers={"Content-Length": str(size)}, timeout=3600)
    finally:
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - t
    response.raise_for_status()
    head = s3.head_object(Bucket=bucket, Key="huge")
    assert head["ContentLength"] == size
    peak = max(samples)
    return {"gib": gib, "mib_s": size / MiB / elapsed, "rss_before_mib": before / 1024,
            "rss_peak_during_upload_mib": peak / 1024, "rss_growth_mib": (peak - before) / 1024,
            "process_hwm_mib": rss_peak_kib(target["pid"]) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=4000)
    parser.add_argument("--big-gib", type=int, default=0)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per operation")
    parser.add_argument("--wrk-keys", type=int, default=20000)
    parser.add_argument("--postgres", default=None, help="CUMULO_DATABASE_URL for Cumulo (default SQLite)")
    parser.add_argument("--parts", default="large,boto,wrk", help="comma-separated subset of large,boto,wrk")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    payload = os.urandom(64 * MiB)
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "load_before": os.getloadavg()[0],
                               "database": "postgresql" if args.postgres else "sqlite"}
    with contextlib.ExitStack() as stack:
        targets = {"cumulo": stack.enter_context(cumulo(args.postgres)), "moto": stack.enter_context(moto())}
        buckets = {}
        for name, target in targets.items():
            buckets[name] = f"bench-{uuid.uuid4().hex[:8]}"
            s3_client(target["endpoint"], target["key"], target["secret"]).create_bucket(Bucket=buckets[name])
        for name in targets:
            results[name] = {}
        if "large" in parts:
            large = large_interleaved(targets, buckets, args.rounds, payload)
            results["disk_copy_mib_s"] = large.pop("disk_copy_mib_s")
            results["disk_copy_2_streams_mib_s"] = large.pop("disk_copy_2_streams_mib_s")
            for name in targets:
                results[name].update(large[name])
        if "boto" in parts:
            for name, target in targets.items():
                results[name].update(small(target, buckets[name], args.small))
        if "wrk" in parts:
            for name, target in targets.items():
                results[name]["wrk"] = small_wrk(target, buckets[name], args.wrk_keys, args.seconds)
        if args.big_gib:
            results["cumulo"]["big_upload"] = big_upload(targets["cumulo"], buckets["cumulo"], args.big_gib)
    results["load_after"] = os.getloadavg()[0]
    if parts == {"large", "boto", "wrk"}:
        results["ratios"] = ratios(results)
    out = RESULTS if parts == {"large", "boto", "wrk"} else RESULTS.with_name(f"s3-{'-'.join(sorted(parts))}.json")
    if args.postgres:
        out = out.with_name(out.stem + "-postgresql.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def ratios(results: dict[str, Any]) -> dict[str, float]:
    c, m, disk = results["cumulo"], results["moto"], results["disk_copy_mib_s"]
    return {
        "small_put_vs_moto": c["wrk"]["put_ops_s"] / m["wrk"]["put_ops_s"],
        "small_get_vs_moto": c["wrk"]["get_ops_s"] / m["wrk"]["get_ops_s"],
        "boto3_small_put_vs_moto": c["put_ops_s"] / m["put_ops_s"],
        "boto3_small_get_vs_moto": c["get_ops_s"] / m["get_ops_s"],
        "large_put_vs_disk": c["put_mib_s"] / disk, "large_get_vs_disk": c["get_mib_s"] / disk,
        "curl_put_vs_disk": c["curl_put_mib_s"] / disk,
        "curl_put_2_streams_vs_2_disk_copies": c["curl_put_2_streams_mib_s"] / results["disk_copy_2_streams_mib_s"],
        "raw_put_vs_disk": c["raw_put_mib_s"] / disk, "raw_put_vs_moto": c["raw_put_mib_s"] / m["raw_put_mib_s"],
        "large_put_vs_moto": c["put_mib_s"] / m["put_mib_s"], "large_get_vs_moto": c["get_mib_s"] / m["get_mib_s"]}


if __name__ == "__main__":
    main()

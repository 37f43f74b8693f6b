"""Managed PostgreSQL: create-to-accepting-connections and pgbench TPS, against a raw `docker run`
of the same image with a Docker volume, the same limits and the same credentials.

For each of N rounds (interleaved, so both see the same machine load):
- Cumulo: POST /databases (postgres, public, 1 CPU, 512 MB, 1 GiB) -> the answer ("answered"), then
  the first successful psycopg query on the public endpoint ("query"); then DELETE (no final backup).
- Peer: `docker volume create` + `docker run -d` (--cpus 1 --memory 512m, POSTGRES_PASSWORD in the
  environment, a host port chosen beforehand) -> polled with psycopg until the first query works.
Then one pgbench run on each (scale 5, 4 clients, 2 threads, 20 s, run inside the container over TCP).

Usage: flock /tmp/bench.lock .venv/bin/python bench/databases.py [--rounds 5] [--seconds 20]
Targets (issue 15): create-to-connections within 1.3x of raw; TPS at least 95% of raw.

``--restore-scale N`` measures restores instead: a managed database (2 CPUs, 1024 MB, 4 GiB) filled
by ``pgbench -i -s N`` (server-side generation; N=70 is about 1 GB), an on-demand backup (its
``pg_dump -Fc`` and the base backup for PITR), then ``POST /databases/{id}/restore {backup_id}`` until
it answers (a new database with the rows loaded), against the same by hand: ``pg_dump -Fc`` out of
the source container to a host file, ``docker run`` of the same image with a volume and the same
limits, ``docker cp`` of the dump, ``pg_restore`` with the options Cumulo uses. Both restores are
checked to hold every ``pgbench_accounts`` row. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import cumulo_api, free_port

PASSWORD = "Bench-passw0rd"
IMAGE = "cumulo/postgres"


def first_query(host: str, port: int, user: str, password: str, db: str, started: float,
                timeout: float = 180) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(host=host, port=port, user=user, password=password, dbname=db,
                                 connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return time.monotonic() - started
        except psycopg.OperationalError:
            time.sleep(0.02)
    raise RuntimeError(f"{host}:{port} never answered")


def cumulo_round(api: httpx.Client, i: int, keep: bool = False) -> tuple[float, float, dict]:
    started = time.monotonic()
    answer = api.post("/databases", json={"name": f"bench-{i}", "engine": "postgres", "public": True, "cpus": 1,
                                          "memory_mb": 512, "storage_gb": 1}, timeout=600)
    answer.raise_for_status()
    db = answer.json()
    answered = time.monotonic() - started
    ep = db["public_endpoint"]
    query = first_query(ep["host"], ep["port"], db["username"], db["password"], db["database"], started)
    if not keep:
        api.delete(f"/databases/{db['id']}", params={"skip_final_backup": "true"}, timeout=600).raise_for_status()
    return answered, query, db


def docker_round(i: int, keep: bool = False) -> tuple[float, str, str]:
    port, name = free_port(), f"cumulo-bench-pg-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    subprocess.run(["docker", "volume", "create", "--label", "cumulo.bench=1", name], capture_output=True, check=True)
    subprocess.run(["docker", "run", "-d", "--name", name, "--cpus", "1", "--memory", "512m", "--label",
                    "cumulo.bench=1", "-e", f"POSTGRES_PASSWORD={PASSWORD}", "-e", "POSTGRES_USER=master", "-e",
                    "POSTGRES_DB=app", "-v", f"{name}:/var/lib/postgresql/data", "-p", f"127.0.0.1:{port}:5432",
                    IMAGE], capture_output=True, text=True, check=True)
    query = first_query("127.0.0.1", port, "master", PASSWORD, "app", started)
    if not keep:
        drop_raw(name)
    return query, name, str(port)


def drop_raw(name: str) -> None:
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=True)
    subprocess.run(["docker", "volume", "rm", name], capture_output=True, check=True)


def pgbench(container: str, password: str, seconds: int, init: bool = True) -> float:
    env = ["-e", f"PGPASSWORD={password}"]
    base = ["-h", "127.0.0.1", "-U", "master", "app"]
    if init:
        subprocess.run(["docker", "exec", *env, container, "pgbench", "-i", "-q", "-s", "5", *base],
                       capture_output=True, check=True)
    out = subprocess.run(["docker", "exec", *env, container, "pgbench", "-c", "4", "-j", "2", "-T", str(seconds),
                          *base], capture_output=True, text=True, check=True).stdout
    match = re.search(r"tps = ([0-9.]+)", out)
    if not match:
        raise RuntimeError(out)
    return float(match.group(1))


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    return f"median {statistics.median(values) * 1000:6.0f} ms  p90 {p90 * 1000:6.0f} ms"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def accounts(host: str, port: int, user: str, password: str) -> tuple[int, int]:
    """(pgbench_accounts rows, size of database app in bytes)."""
    with psycopg.connect(host=host, port=port, user=user, password=password, dbname="app") as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM pgbench_accounts), pg_database_size('app')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def restore_bench(api: httpx.Client, scale: int) -> None:
    print(f"restore of a pgbench -s {scale} database; load average before: {load()}", flush=True)
    src = api.post("/databases", json={"name": "bench-src", "engine": "postgres", "public": True, "cpus": 2,
                                       "memory_mb": 1024, "storage_gb": 4}, timeout=600)
    src.raise_for_status()
    db = src.json()
    container, made = f"cumulo-db-{db['id']}", []
    raw_name = f"cumulo-bench-pg-{uuid.uuid4().hex[:8]}"
    try:
        started = time.monotonic()
        subprocess.run(["docker", "exec", "-e", f"PGPASSWORD={db['password']}", container, "pgbench", "-i", "-q",
                        "-I", "dtGvp", "-s", str(scale), "-h", "127.0.0.1", "-U", db["username"], "app"],
                       capture_output=True, check=True)
        ep = db["public_endpoint"]
        rows, size = accounts(ep["host"], ep["port"], db["username"], db["password"])
        print(f"  filled: {rows} rows, pg_database_size {size / 2**20:.0f} MiB in {time.monotonic() - started:.0f} s",
              flush=True)

        started = time.monotonic()
        api.post(f"/databases/{db['id']}/backups", timeout=3600).raise_for_status()
        backup_s = time.monotonic() - started
        listed = {b["kind"]: b for b in api.get(f"/databases/{db['id']}/backups").json()}
        dump = listed["manual"]
        print(f"  POST /backups (pg_dump -Fc {dump['bytes'] / 2**20:.0f} MiB + base backup "
              f"{listed.get('base', {}).get('bytes', 0) / 2**20:.0f} MiB): {backup_s:.1f} s", flush=True)

        started = time.monotonic()
        answer = api.post(f"/databases/{db['id']}/restore", json={"backup_id": dump["id"], "name": "bench-copy",
                                                                  "public": True}, timeout=3600)
        answer.raise_for_status()
        ours = time.monotonic() - started
        copy = answer.json()
        made.append(copy["id"])
        cp = copy["public_endpoint"]
        assert accounts(cp["host"], cp["port"], copy["username"], copy["password"])[0] == rows
        print(f"  Cumulo: POST /restore -> answered, rows loaded   {ours:7.1f} s", flush=True)
        api.delete(f"/databases/{copy['id']}", params={"skip_final_backup": "true"}, timeout=600)
        made.remove(copy["id"])

        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "dump"
            started = time.monotonic()
            with local.open("wb") as fh:
                subprocess.run(["docker", "exec", "-u", "postgres", container, "pg_dump", "-Fc", "-U", db["username"],
                                "-d", "app"], stdout=fh, check=True)
            print(f"  by hand: pg_dump -Fc to a host file ({local.stat().st_size / 2**20:.0f} MiB)  "
                  f"{time.monotonic() - started:7.1f} s (not counted)", flush=True)
            port = free_port()
            started = time.monotonic()
            subprocess.run(["docker", "volume", "create", "--label", "cumulo.bench=1", raw_name], capture_output=True,
                           check=True)
            subprocess.run(["docker", "run", "-d", "--name", raw_name, "--cpus", "2", "--memory", "1024m", "--label",
                            "cumulo.bench=1", "-e", f"POSTGRES_PASSWORD={PASSWORD}", "-e", "POSTGRES_USER=master",
                            "-e", "POSTGRES_DB=app", "-v", f"{raw_name}:/var/lib/postgresql/data", "-p",
                            f"127.0.0.1:{port}:5432", IMAGE], capture_output=True, text=True, check=True)
            first_query("127.0.0.1", port, "master", PASSWORD, "app", started)
            subprocess.run(["docker", "cp", str(local), f"{raw_name}:/tmp/restore"], capture_output=True, check=True)
            subprocess.run(["docker", "exec", "-u", "postgres", raw_name, "pg_restore", "--no-owner", "--no-acl",
                            "--exit-on-error", "-U", "master", "-d", "app", "/tmp/restore"], capture_output=True,
                           check=True)
            theirs = time.monotonic() - started
        assert accounts("127.0.0.1", port, "master", PASSWORD)[0] == rows
        print(f"  by hand: docker run + volume, docker cp, pg_restore {theirs:7.1f} s", flush=True)
        print(f"  ratio: {ours / theirs:.2f}x; load average after: {load()}")
    finally:
        for db_id in [*made, db["id"]]:
            api.delete(f"/databases/{db_id}", params={"skip_final_backup": "true"}, timeout=600)
        subprocess.run(["docker", "rm", "-f", raw_name], check=False, capture_output=True)
        subprocess.run(["docker", "volume", "rm", raw_name], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--tps-rounds", type=int, default=1, help="pgbench runs on each, interleaved (medians)")
    parser.add_argument("--postgres", default=None, help="Cumulo's database URL (default: SQLite)")
    parser.add_argument("--volume-backend", default=None, help="CUMULO_VOLUME_BACKEND (loop, plain; default auto)")
    parser.add_argument("--restore-scale", type=int, default=0, help="measure restores of a pgbench -s N database "
                        "instead (70: about 1 GB)")
    args = parser.parse_args()
    extra = {"CUMULO_VOLUME_BACKEND": args.volume_backend} if args.volume_backend else None
    with cumulo_api(args.postgres, extra) as url:
        httpx.post(f"{url}/auth/register", json={"email": "bench@example.com", "password": PASSWORD, "name": "B"})
        key = httpx.post(f"{url}/auth/login", json={"email": "bench@example.com", "password": PASSWORD}).json()[
            "api_key"]
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as api:
            if args.restore_scale:
                restore_bench(api, args.restore_scale)
                return
            print(f"load average before: {load()}", flush=True)
            ours: list[tuple[float, float]] = []
            theirs: list[float] = []
            if args.rounds:
                cumulo_round(api, -1), docker_round(-1)  # warm-up
            for i in range(args.rounds):
                answered, query, _ = cumulo_round(api, i)
                ours.append((answered, query))
                theirs.append(docker_round(i)[0])
            _, _, managed = cumulo_round(api, 999, keep=True)
            raw = docker_round(999, keep=True)
            managed_runs: list[float] = []
            raw_runs: list[float] = []
            try:
                for i in range(max(1, args.tps_rounds)):  # interleaved: both see the same machine
                    managed_runs.append(pgbench(f"cumulo-db-{managed['id']}", managed["password"], args.seconds,
                                                init=i == 0))
                    raw_runs.append(pgbench(raw[1], PASSWORD, args.seconds, init=i == 0))
                    print(f"  pgbench run {i}: managed {managed_runs[-1]:.0f} tps, raw {raw_runs[-1]:.0f} tps "
                          f"(load {load()})", flush=True)
            finally:
                api.delete(f"/databases/{managed['id']}", params={"skip_final_backup": "true"}, timeout=600)
                drop_raw(raw[1])
    print(f"{args.rounds} creations each, {IMAGE} (PostgreSQL 15), 1 CPU, 512 MB; Cumulo on "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}; disk backend {args.volume_backend or 'auto'}")
    if ours:
        print(f"  POST /databases -> answered          {summary([o[0] for o in ours])}")
        print(f"  POST /databases -> first query       {summary([o[1] for o in ours])}")
        print(f"  docker run + volume -> first query   {summary(theirs)}")
        ratio = statistics.median([o[1] for o in ours]) / statistics.median(theirs)
        print(f"  ratio of medians (first query): {ratio:.2f}x (target <= 1.3x)")
    managed_tps, raw_tps = statistics.median(managed_runs), statistics.median(raw_runs)
    print(f"  pgbench -s 5 -c 4 -j 2 -T {args.seconds}, {len(raw_runs)} runs each: median managed {managed_tps:.0f} "
          f"tps, raw {raw_tps:.0f} tps ({managed_tps / raw_tps * 100:.0f}%, target >= 95%)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()

"""Where the managed database's TPS goes (issue 15, bench/README.md): pgbench in a raw cumulo/postgres
container (1 CPU, 512 MB) whose data directory is (A) a Docker volume, or a loop-device ext4 made
(B) as Cumulo makes it, (C) with --direct-io=on, (D) direct-io + noatime, (E) direct-io on a
fallocated file; (F) a Docker volume with Cumulo's WAL archiving flags. Interleaved rounds.

Usage (root, Docker): flock /tmp/bench.lock .venv/bin/python bench/database_disks.py [SECONDS] [ROUNDS] [A,B,...]"""
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

ROOT = "/tmp/cumulo-bench-disks"
PW = "Bench-passw0rd"
SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
VARIANTS = sys.argv[3].split(",") if len(sys.argv) > 3 else ["A", "B", "C", "D", "E", "F"]
ARCH = ["-c", "wal_level=replica", "-c", "archive_mode=on", "-c", "archive_timeout=300", "-c",
        "archive_command=mkdir -p /var/lib/postgresql/data/cumulo_wal && test ! -f /var/lib/postgresql/data/cumulo_wal/%f && cp %p /var/lib/postgresql/data/cumulo_wal/%f.part && mv /var/lib/postgresql/data/cumulo_wal/%f.part /var/lib/postgresql/data/cumulo_wal/%f"]


def sh(*a, check=True):
    return subprocess.run(a, capture_output=True, text=True, check=check).stdout


def make_loop(tag, dio, opts, falloc):
    img, mnt = f"{ROOT}/{tag}.img", f"{ROOT}/{tag}.mnt"
    os.makedirs(ROOT, exist_ok=True)
    with open(img, "wb") as f:
        if falloc:
            os.posix_fallocate(f.fileno(), 0, 1 << 30)
        else:
            f.truncate(1 << 30)
    sh("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", img)
    dev = sh("losetup", "-f", "--show", *(["--direct-io=on"] if dio else []), img).strip()
    os.makedirs(mnt, exist_ok=True)
    sh("mount", "-t", "ext4", *(["-o", opts] if opts else []), dev, mnt)
    os.makedirs(f"{mnt}/fs", exist_ok=True)
    return f"{mnt}/fs", (img, mnt, dev)


def drop_loop(state):
    img, mnt, dev = state
    sh("umount", mnt, check=False)
    sh("losetup", "-d", dev, check=False)
    os.remove(img)


def run(variant):
    name = f"h19-pg-{variant}-{uuid.uuid4().hex[:6]}"
    loop, extra = None, []
    if variant == "A" or variant == "F":
        sh("docker", "volume", "create", name)
        mount = f"{name}:/var/lib/postgresql/data"
        if variant == "F":
            extra = ARCH
    else:
        spec = {"B": (False, "", False), "C": (True, "", False), "D": (True, "noatime", False),
                "E": (True, "", True), "G": (True, "noatime,journal_async_commit", True)}[variant]
        path, loop = make_loop(name, *spec)
        mount = f"{path}:/var/lib/postgresql/data"
    try:
        sh("docker", "run", "-d", "--name", name, "--cpus", "1", "--memory", "512m", "-e", f"POSTGRES_PASSWORD={PW}",
           "-e", "POSTGRES_USER=master", "-e", "POSTGRES_DB=app", "-v", mount, "cumulo/postgres",
           *extra)
        for _ in range(600):
            if subprocess.run(["docker", "exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", "master", "-d", "app"],
                              capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.2)
        time.sleep(1)
        env = ["-e", f"PGPASSWORD={PW}"]
        base = ["-h", "127.0.0.1", "-U", "master", "app"]
        sh("docker", "exec", *env, name, "pgbench", "-i", "-q", "-s", "5", *base)
        out = sh("docker", "exec", *env, name, "pgbench", "-c", "4", "-j", "2", "-T", str(SECONDS), *base)
        return float(re.search(r"tps = ([0-9.]+)", out).group(1))
    finally:
        sh("docker", "rm", "-f", name, check=False)
        if loop:
            drop_loop(loop)
        else:
            sh("docker", "volume", "rm", name, check=False)


results = {v: [] for v in VARIANTS}
print("load before", " ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
for r in range(ROUNDS):
    for v in VARIANTS:
        tps = run(v)
        results[v].append(tps)
        print(f"round {r} {v}: {tps:.0f} tps  load {os.getloadavg()[0]:.1f}", flush=True)
print("load after", " ".join(f"{x:.1f}" for x in os.getloadavg()))
for v, xs in results.items():
    print(v, "median", round(statistics.median(xs)), xs)

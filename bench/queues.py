"""Queue throughput end to end (send, receive, delete) through Cumulo's HTTP API, side by side in
the same run with SQS in moto_server driven by boto3.

8 producer and 8 consumer processes; a run ends when every message has been received and deleted.
Two modes: single (one message per call) and batched (10 per call: send batch, receive 10,
delete batch). Usage:

    .venv/bin/python bench/queues.py [--messages 2000] [--batched-messages 20000] [--postgres]

Targets (issue 5): at least 3x moto; batched at least 5,000 messages/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import VENV_BIN, cumulo_api, free_port, process  # noqa: E402

PRODUCERS = CONSUMERS = 8
DEADLINE = 60.0  # seconds per run
EMPTY_PAUSE = 0.0  # both peers long-poll for 1 s (moto's short poll spins under load)
PASSWORD = "Bench-passw0rd"
RESULTS = Path(__file__).resolve().parent / "results" / "queues.json"


# --- workers (run in child processes) -----------------------------------------------------------

def cumulo_producer(url: str, key: str, queue: str, count: int, batch: int, go: mp.Barrier) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as c:
        c.get("/health/live")
        go.wait()
        for start in range(0, count, batch):
            n = min(batch, count - start)
            if batch == 1:
                c.post(f"/queues/{queue}/messages", json={"body": f"m{start}"}).raise_for_status()
            else:
                c.post(f"/queues/{queue}/messages/batch",
                       json={"messages": [{"body": f"m{start + i}"} for i in range(n)]}).raise_for_status()


def cumulo_consumer(url: str, key: str, queue: str, batch: int, done: mp.Value, total: int,
                    go: mp.Barrier) -> None:
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as c:
        c.get("/health/live")
        go.wait()
        while done.value < total:
            got = c.get(f"/queues/{queue}/messages", params={"max_messages": batch, "wait_seconds": 1}).json()
            if not got:
                time.sleep(EMPTY_PAUSE)
                continue
            if batch == 1:
                c.delete(f"/queues/{queue}/messages/{got[0]['receipt_handle']}").raise_for_status()
            else:
                c.post(f"/queues/{queue}/messages/delete",
                       json={"receipt_handles": [m["receipt_handle"] for m in got]}).raise_for_status()
            with done.get_lock():
                done.value += len(got)


def _sqs(url: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench")


def moto_producer(url: str, _key: str, queue: str, count: int, batch: int, go: mp.Barrier) -> None:
    sqs = _sqs(url)
    sqs.get_queue_attributes(QueueUrl=queue)
    go.wait()
    for start in range(0, count, batch):
        n = min(batch, count - start)
        if batch == 1:
            sqs.send_message(QueueUrl=queue, MessageBody=f"m{start}")
        else:
            sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"}
                                                            for i in range(n)])


def moto_consumer(url: str, _key: str, queue: str, batch: int, done: mp.Value, total: int,
                  go: mp.Barrier) -> None:
    sqs = _sqs(url)
    sqs.get_queue_attributes(QueueUrl=queue)
    go.wait()
    while done.value < total:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=batch, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            time.sleep(EMPTY_PAUSE)
            continue
        if batch == 1:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=got[0]["ReceiptHandle"])
        else:
            sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                              for i, m in enumerate(got)])
        with done.get_lock():
            done.value += len(got)


# --- driver ---------------------------------------------------------------------------------------

def run(kind: str, url: str, key: str, queue: str, total: int, batch: int) -> float:
    produce, consume = (cumulo_producer, cumulo_consumer) if kind == "cumulo" else (moto_producer, moto_consumer)
    done = mp.Value("i", 0)
    go = mp.Barrier(PRODUCERS + CONSUMERS + 1)
    per = total // PRODUCERS
    ctx_procs = [mp.Process(target=consume, args=(url, key, queue, batch, done, per * PRODUCERS, go))
                 for _ in range(CONSUMERS)]
    ctx_procs += [mp.Process(target=produce, args=(url, key, queue, per, batch, go)) for _ in range(PRODUCERS)]
    for p in ctx_procs:
        p.start()
    go.wait()  # every worker has its client ready: the clock starts now
    start = time.perf_counter()
    for p in ctx_procs:
        p.join(max(0.1, start + DEADLINE - time.perf_counter()))
    elapsed = time.perf_counter() - start
    for p in ctx_procs:  # a peer that has not finished by the deadline is measured on what it did
        if p.is_alive():
            p.terminate()
            p.join()
    return done.value / elapsed


def bench_cumulo(database_url: str | None, plan: list[tuple[str, int, int]]) -> dict[str, float]:
    out = {}
    with cumulo_api(database_url) as url:
        email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
        httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD, "name": "Bench"})
        key = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
        for label, total, batch in plan:
            queue = httpx.post(f"{url}/queues", json={"name": f"bench-{label}"},
                               headers={"X-API-Key": key}).json()["id"]
            out[label] = run("cumulo", url, key, queue, total, batch)
    return out


def bench_moto(plan: list[tuple[str, int, int]]) -> dict[str, float]:
    port = free_port()
    out = {}
    url = f"http://127.0.0.1:{port}"
    with process([str(VENV_BIN / "moto_server"), "-p", str(port)], f"{url}/moto-api/"):
        for label, total, batch in plan:
            queue = _sqs(url).create_queue(QueueName=f"bench-{label}")["QueueUrl"]
            out[label] = run("moto", url, "", queue, total, batch)
    return out


def postgres_database() -> tuple[str, object]:
    import psycopg

    admin = os.environ.get("CUMULO_TEST_PG_URL", "postgresql://cumulo:cumulo@127.0.0.1:5432/postgres")
    name = f"cumulo_bench_queues_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = admin.rsplit("/", 1)[0].split("://", 1)[1]
    return f"postgresql+asyncpg://{base}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000, help="messages in the single-message runs")
    parser.add_argument("--batched-messages", type=int, default=10000, help="messages in the batched runs")
    parser.add_argument("--postgres", action="store_true", help="also run Cumulo on PostgreSQL")
    args = parser.parse_args()
    plan = [("single", args.messages, 1), ("batched", args.batched_messages, 10)]
    results: dict[str, dict[str, float]] = {"moto": bench_moto(plan), "cumulo-sqlite": bench_cumulo(None, plan)}
    if args.postgres:
        url, drop = postgres_database()
        try:
            results["cumulo-postgresql"] = bench_cumulo(url, plan)
        finally:
            drop()  # type: ignore[operator]
    print(f"{'peer':<20}{'single msg/s':>14}{'batched msg/s':>15}{'x moto (single/batched)':>26}")
    for peer, r in results.items():
        ratio = f"{r['single'] / results['moto']['single']:.1f} / {r['batched'] / results['moto']['batched']:.1f}"
        print(f"{peer:<20}{r['single']:>14.0f}{r['batched']:>15.0f}{ratio:>26}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"producers": PRODUCERS, "consumers": CONSUMERS, "plan": plan,
                                   "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

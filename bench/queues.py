"""Queue throughput end to end (send, receive, delete) through Cumulo's HTTP API, side by side in
the same run with SQS in moto_server driven by boto3.

8 producers and 8 consumers; consumers long-poll for 1 s. Two modes: single (one message per
call) and batched (10 per call: send batch, receive 10, delete batch). The rate is messages
deleted per second, from the moment every worker is connected to the last delete (a consumer
still in a long poll after the last delete does not count); a run that has not finished after
60 s is measured on what it did.

Clients. moto is driven by boto3 as before: 8 + 8 worker processes (boto3 is moto's own client,
and a boto3 client is not meant for asyncio). Cumulo's 8 producers and 8 consumers are coroutines
in one client process (``--client-processes``), each on its own keep-alive connection, speaking
HTTP/1.1 through the minimal ``Connection`` class below: the machine has 2 cores shared by the
clients, the server and PostgreSQL, and 16 processes with sync httpx (or one httpx.AsyncClient,
about 1.8 ms of CPU per request) burnt more CPU than the server itself. The bench client now
costs about 20 ms of CPU per 1,000 batched messages.

Server. ``cumulo api`` with one API process by default (``--api-processes``): with several, the
per-process caches (API keys, queue rows) are off by design, which costs more CPU per message
than the second process gains on 2 cores.

Usage:

    .venv/bin/python bench/queues.py [--messages 2000] [--batched-messages 10000] [--postgres]
        [--client-processes 1] [--api-processes 1] [--skip moto,sqlite]

Targets (issue 5): at least 3x moto; batched at least 5,000 messages/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
import uuid
from pathlib import Path

import httpx  # set-up calls only

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import VENV_BIN, cumulo_api, free_port, process

PRODUCERS = CONSUMERS = 8
DEADLINE = 60.0  # seconds per run
CLIENT_PROCESSES = 1  # Cumulo's 8 + 8 coroutines share this many client processes
API_PROCESSES = 1
PASSWORD = "Bench-passw0rd"
RESULTS = Path(__file__).resolve().parent / "results" / "queues.json"


# --- workers (run in child processes) -----------------------------------------------------------

def _finish(done: mp.Value, finished: mp.Value, total: int, n: int) -> None:
    """Count ``n`` deleted messages; the call that completes the run stamps the finish time."""
    with done.get_lock():
        done.value += n
        if done.value >= total and finished.value == 0.0:
            finished.value = time.monotonic()


class Connection:
    """A minimal HTTP/1.1 keep-alive client (one connection, one request at a time) for Cumulo's
    load: JSON in, JSON out, bodies sized by Content-Length (what Cumulo's API sends). It costs a
    fraction of httpx's CPU per request, which matters when clients and server share 2 cores."""

    def __init__(self, url: str, key: str):
        self.host, _, port = url.split("://", 1)[1].partition(":")
        self.port = int(port)
        self.head = f"Host: {self.host}\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n"

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        await self.call("GET", "/health/live")
        return self

    async def call(self, method: str, path: str, body: object = None) -> object:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        self.writer.write(f"{method} {path} HTTP/1.1\r\n{self.head}Content-Length: {len(data)}\r\n\r\n".encode()
                          + data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length = int(head[9:12]), 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by the bench client")
        payload = await self.reader.readexactly(length) if length else b""
        if status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {status} {payload[:300]!r}")
        return json.loads(payload) if payload else None


async def _cumulo_producer(c: Connection, queue: str, count: int, batch: int) -> None:
    for start in range(0, count, batch):
        n = min(batch, count - start)
        if batch == 1:
            await c.call("POST", f"/queues/{queue}/messages", {"body": f"m{start}"})
        else:
            await c.call("POST", f"/queues/{queue}/messages/batch",
                         {"messages": [{"body": f"m{start + i}"} for i in range(n)]})


async def _cumulo_consumer(c: Connection, queue: str, batch: int, done: mp.Value, finished: mp.Value,
                           total: int) -> None:
    receive = f"/queues/{queue}/messages?max_messages={batch}&wait_seconds=1"
    while done.value < total:
        got = await c.call("GET", receive)
        if not got:
            continue
        if batch == 1:
            await c.call("DELETE", f"/queues/{queue}/messages/{got[0]['receipt_handle']}")
        else:
            await c.call("POST", f"/queues/{queue}/messages/delete",
                         {"receipt_handles": [m["receipt_handle"] for m in got]})
        _finish(done, finished, total, len(got))


def cumulo_clients(url: str, key: str, queue: str, counts: list[int], consumers: int, batch: int,
                   done: mp.Value, finished: mp.Value, total: int, go: mp.Barrier) -> None:
    """One client process: ``len(counts)`` producer and ``consumers`` consumer coroutines on one
    event loop (uvloop when installed), each with its own keep-alive connection."""

    async def main() -> None:
        producers = [await Connection(url, key).open() for _ in counts]
        receivers = [await Connection(url, key).open() for _ in range(consumers)]
        go.wait()
        await asyncio.gather(*[_cumulo_producer(c, queue, n, batch) for c, n in zip(producers, counts)],
                             *[_cumulo_consumer(c, queue, batch, done, finished, total) for c in receivers])

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


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


def moto_consumer(url: str, _key: str, queue: str, batch: int, done: mp.Value, finished: mp.Value, total: int,
                  go: mp.Barrier) -> None:
    sqs = _sqs(url)
    sqs.get_queue_attributes(QueueUrl=queue)
    go.wait()
    while done.value < total:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=batch, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            continue
        if batch == 1:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=got[0]["ReceiptHandle"])
        else:
            sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                              for i, m in enumerate(got)])
        _finish(done, finished, total, len(got))


# --- driver ---------------------------------------------------------------------------------------

def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def run(kind: str, url: str, key: str, queue: str, total: int, batch: int, client_processes: int) -> float:
    """Messages per second from the start signal to the last delete (consumers still in a long poll
    when the last message is deleted do not count)."""
    done, finished = mp.Value("i", 0), mp.Value("d", 0.0)
    per = total // PRODUCERS
    total = per * PRODUCERS
    if kind == "cumulo":
        producer_counts = [[per] * n for n in _split(PRODUCERS, client_processes)]
        consumer_counts = _split(CONSUMERS, client_processes)
        go = mp.Barrier(client_processes + 1)
        procs = [mp.Process(target=cumulo_clients, args=(url, key, queue, counts, consumers, batch, done,
                                                         finished, total, go))
                 for counts, consumers in zip(producer_counts, consumer_counts)]
    else:
        go = mp.Barrier(PRODUCERS + CONSUMERS + 1)
        procs = [mp.Process(target=moto_consumer, args=(url, key, queue, batch, done, finished, total, go))
                 for _ in range(CONSUMERS)]
        procs += [mp.Process(target=moto_producer, args=(url, key, queue, per, batch, go)) for _ in range(PRODUCERS)]
    for p in procs:
        p.start()
    go.wait()  # every worker has its connections ready: the clock starts now
    start = time.monotonic()
    for p in procs:
        p.join(max(0.1, start + DEADLINE - time.monotonic()))
    end = finished.value or time.monotonic()
    for p in procs:  # a peer that has not finished by the deadline is measured on what it did
        if p.is_alive():
            p.terminate()
            p.join()
    return done.value / (end - start)


def bench_cumulo(database_url: str | None, plan: list[tuple[str, int, int]], client_processes: int,
                 api_processes: int) -> dict[str, float]:
    out = {}
    env = {"CUMULO_API_PROCESSES": str(api_processes)} if api_processes > 1 else None
    with cumulo_api(database_url, env) as url:
        email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
        httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD, "name": "Bench"})
        key = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
        for label, total, batch in plan:
            queue = httpx.post(f"{url}/queues", json={"name": f"bench-{label}"},
                               headers={"X-API-Key": key}).json()["id"]
            out[label] = run("cumulo", url, key, queue, total, batch, client_processes)
    return out


def bench_moto(plan: list[tuple[str, int, int]]) -> dict[str, float]:
    port = free_port()
    out = {}
    url = f"http://127.0.0.1:{port}"
    with process([str(VENV_BIN / "moto_server"), "-p", str(port)], f"{url}/moto-api/"):
        for label, total, batch in plan:
            queue = _sqs(url).create_queue(QueueName=f"bench-{label}")["QueueUrl"]
            out[label] = run("moto", url, "", queue, total, batch, 0)
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
    parser.add_argument("--client-processes", type=int, default=CLIENT_PROCESSES,
                        help="processes sharing Cumulo's 8 producer and 8 consumer coroutines")
    parser.add_argument("--api-processes", type=int, default=API_PROCESSES, help="CUMULO_API_PROCESSES")
    parser.add_argument("--skip", default="", help="comma-separated peers to leave out while iterating: "
                        "moto, sqlite")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    plan = [("single", args.messages, 1), ("batched", args.batched_messages, 10)]
    cumulo = {"client_processes": args.client_processes, "api_processes": args.api_processes}
    results: dict[str, dict[str, float]] = {}
    if "moto" not in skip:
        results["moto"] = bench_moto(plan)
    if "sqlite" not in skip:
        results["cumulo-sqlite"] = bench_cumulo(None, plan, **cumulo)
    if args.postgres:
        url, drop = postgres_database()
        try:
            results["cumulo-postgresql"] = bench_cumulo(url, plan, **cumulo)
        finally:
            drop()  # type: ignore[operator]
    base = results.get("moto", {"single": float("nan"), "batched": float("nan")})
    print(f"{'peer':<20}{'single msg/s':>14}{'batched msg/s':>15}{'x moto (single/batched)':>26}")
    for peer, r in results.items():
        ratio = f"{r['single'] / base['single']:.1f} / {r['batched'] / base['batched']:.1f}"
        print(f"{peer:<20}{r['single']:>14.0f}{r['batched']:>15.0f}{ratio:>26}")
    if skip:
        return  # a partial run does not replace the recorded results
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"producers": PRODUCERS, "consumers": CONSUMERS, "plan": plan, **cumulo,
                                   "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Cost of one meter pass over 10,000 running resources, on PostgreSQL (target: under one second).

Fills a fresh database with N running instances (2 vCPU, 2 GiB) spread over 100 billed accounts,
then times (wall clock, the CPU time of the Cumulo process, and the CPU time of the PostgreSQL
backends serving the bench database), with a test clock, after a first steady pass (a warm process):
- the passes that close a day (once a day): one ledger line per resource (10,000 inserts with unique
  keys) and every meter row updated, ``closing.BATCH`` meters a pass (30 s apart on the test clock);
  the slowest of them is reported, and each one's time;
- a steady pass inside the day (what runs every CUMULO_BILLING_METER_SECONDS): every resource's
  ongoing cost summed into its account, nothing posted;
- a rerun of the closing pass on a restored meter state (what a crash after the commit would redo):
  the unique keys insert nothing.

Usage (under the bench lock; ``--history-days 29``: the ledger of a month's end, 290,000 lines):

    flock /tmp/bench.lock .venv/bin/python bench/billing.py [--resources 10000] [--accounts 100] [--history-days 0]

The database server is CUMULO_TEST_PG_URL's (the tests' own fresh-database helper makes and drops it).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import func, insert, select, text, update

from cumulo.core import clock as clocks
from cumulo.core.config import Settings
from cumulo.db import migrate
from cumulo.platform import build_platform
from cumulo.services.billing import closing as closing_mod
from cumulo.services.billing import meter
from cumulo.services.billing.models import Account, Entry, Meter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import PG_ADMIN_URL as ADMIN  # CUMULO_TEST_PG_URL
from tests.conftest import _create_pg_database

TICKS = os.sysconf("SC_CLK_TCK")


def db_cpu(name: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to the bench database (read from
    /proc: the server runs on this machine), so the database's work is measured apart from the wait
    for a core on a loaded machine."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


# the ledger of a month's end: one charge line per resource and earlier day, in the closing pass's month
HISTORY = text("""INSERT INTO billing_ledger (id, key, user_id, kind, wallet, amount, month, service, resource_type,
  resource_id, quantity, unit, description, period_start, period_end, created_at)
SELECT CAST(gen_random_uuid() AS text), 'instance:' || i || '/history-' || d,
       (CAST(:users AS text[]))[1 + i % :accounts], 'charge', 'granted', -26400000, :month, 'compute', 'instance',
       CAST(i AS text), 24.0, 'hour', 'history', :start, :start, :start
FROM generate_series(0, :resources - 1) AS i, generate_series(1, :days) AS d""")


async def main(resources: int, accounts: int, history_days: int = 0) -> dict[str, object]:
    url, drop = _create_pg_database()  # the tests' own: a fresh database, dropped with retries
    name = url.rsplit("/", 1)[1]
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        platform = build_platform(Settings(database_url=url, data_dir=tempfile.mkdtemp(prefix="bench-billing-")))
        hour = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # a day's start
        # a steady pass late in the day before, as the server ran every 30 s before the day closed
        clock = clocks.ManualClock(hour - dt.timedelta(minutes=5))
        clocks.install(asyncio.get_running_loop(), clock)
        users = [str(uuid.uuid4()) for _ in range(accounts)]
        async with platform.db.session() as session:
            await session.execute(insert(Account), [
                {"user_id": u, "plan_id": "payg", "month": hour.strftime("%Y-%m"), "accrued": 0,
                 "created_at": hour - dt.timedelta(hours=2), "updated_at": hour} for u in users])
            await session.execute(insert(Meter), [
                {"id": f"instance:{i}", "user_id": users[i % accounts], "service": "compute",
                 "resource_type": "instance", "resource_id": str(i), "name": f"vm{i}",
                 "spec": {"cpus": 2.0, "memory_mb": 2048}, "running_since": hour - dt.timedelta(minutes=10),
                 "segments": [], "cap_month": "", "cap_used": 0, "gone": False, "created_at": hour}
                for i in range(resources)])
            if history_days:
                await session.execute(HISTORY, {"users": users, "accounts": accounts, "month": hour.strftime("%Y-%m"),
                                                "start": hour - dt.timedelta(days=2), "resources": resources,
                                                "days": history_days})
            await session.commit()
            await session.execute(text("ANALYZE"))
        await meter.run(platform)
        clock.now = hour + dt.timedelta(minutes=20)
        # the passes that close the day: each closes up to closing.BATCH meters, every 30 s as the server runs
        walls, cpus, dbs, charges = [], [], [], []
        while True:
            t0, c0, d0 = time.perf_counter(), time.process_time(), db_cpu(name)
            closing = await meter.run(platform)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            dbs.append(db_cpu(name) - d0)
            charges.append(closing["charges"])
            if sum(charges) >= resources or closing["charges"] == 0:
                break
            clock.advance(30)
        steady, steady_cpu, steady_db = [], [], []
        for _ in range(5):
            clock.advance(30)
            t0, c0, d0 = time.perf_counter(), time.process_time(), db_cpu(name)
            await meter.run(platform)
            steady.append(time.perf_counter() - t0)
            steady_cpu.append(time.process_time() - c0)
            steady_db.append(db_cpu(name) - d0)
        async with platform.db.session() as session:  # a replay: the meters as they were before the close
            await session.execute(update(Meter).where(Meter.resource_type == "instance")
                                  .values(rated_until=None, cap_used=0, cap_month=""))
            await session.commit()
        t0 = time.perf_counter()
        rerun = await meter.run(platform)
        rerun_s = time.perf_counter() - t0
        async with platform.db.session() as session:
            lines = await session.scalar(select(func.count()).select_from(Entry).where(Entry.kind == "charge",
                                                                                          Entry.description != "history"))
            charged = await session.scalar(select(func.sum(Entry.amount)).where(Entry.kind == "charge",
                                                                              Entry.description != "history"))
        await platform.close()
        return {"load_average": round(os.getloadavg()[0], 1), "resources": resources, "accounts": accounts,
                "history_lines": resources * history_days,
                "closing_batch": closing_mod.BATCH, "closing_passes": len(walls),
                "closing_pass_s": round(max(walls), 3), "closing_passes_s": [round(w, 3) for w in walls],
                "closing_pass_cpu_s": round(max(cpus), 3), "closing_pass_db_cpu_s": round(max(dbs), 3),
                "steady_pass_cpu_median_s": round(statistics.median(steady_cpu), 3),
                "steady_pass_db_cpu_median_s": round(statistics.median(steady_db), 3),
                "closing_charges": sum(charges), "steady_pass_median_s": round(statistics.median(steady), 3),
                "steady_pass_max_s": round(max(steady), 3), "rerun_pass_s": round(rerun_s, 3),
                "rerun_charges": rerun["charges"], "ledger_lines": lines,
                "charged_credits": -float(charged or 0) / 1_000_000}
    finally:
        drop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--history-days", type=int, default=0,
                        help="a month's end: this many earlier days of charge lines per resource in the ledger")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.resources, args.accounts, args.history_days)), indent=2))

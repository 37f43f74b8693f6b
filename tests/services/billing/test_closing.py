"""The set-based closing pass (PostgreSQL, ``billing.closing``) rates exactly as the meter's own
rating (``meter.rate_meter``, used on SQLite and for meters with closed runs): the same lines, keys,
amounts, quantities and descriptions, the same meter states after it (rated until, cap month and
used), and the same pending amounts, over running meters of every kind: several days closed in one
pass, a month's end crossed, the monthly cap reached, a line already in the ledger (a replay)."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import uuid
from typing import Any

from sqlalchemy import insert, select, update

from cumulo.core.config import Settings
from cumulo.db import migrate
from cumulo.platform import build_platform
from cumulo.services.billing import closing, ledger, meter
from cumulo.services.billing.models import Account, Entry, Meter, Plan, Price

MONTH_START = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
NOW = MONTH_START + dt.timedelta(days=1, hours=2)
HORIZON = NOW - dt.timedelta(seconds=60)
CAP_HOURS = 40.0
USER = str(uuid.uuid4())


def _meters() -> list[dict[str, Any]]:
    def m(kind: str, spec: dict[str, Any], since: dt.datetime, rated: dt.datetime | None = None, cap_month: str = "",
          cap_used: int = 0) -> dict[str, Any]:
        rid = str(uuid.uuid4())
        return {"id": f"{kind}:{rid}", "user_id": USER, "service": kind + "s", "resource_type": kind, "resource_id": rid,
                "name": f"{kind}-x", "spec": spec, "running_since": since, "segments": [], "rated_until": rated,
                "cap_month": cap_month, "cap_used": cap_used, "gone": False, "created_at": since}

    return [
        m("instance", {"cpus": 2.0, "memory_mb": 2048}, MONTH_START - dt.timedelta(days=3, hours=5)),  # capped: 40 h
        m("instance", {"cpus": 0.5, "memory_mb": 512}, MONTH_START - dt.timedelta(hours=7, minutes=13, seconds=7)),
        m("database", {"cpus": 1.0, "memory_mb": 1024}, MONTH_START - dt.timedelta(days=2),
          rated=MONTH_START - dt.timedelta(days=1), cap_month="2027-02", cap_used=30_000_000),  # near the cap
        m("cache", {"cpus": 0.5, "memory_mb": 768}, MONTH_START - dt.timedelta(days=1, seconds=30),
          rated=MONTH_START - dt.timedelta(days=1), cap_month="2027-02", cap_used=1),
        m("loadbalancer", {}, MONTH_START - dt.timedelta(days=4, hours=3)),
        m("instance", {"cpus": 1.0, "memory_mb": 1024}, MONTH_START + dt.timedelta(minutes=30)),  # open day only
        m("instance", {"cpus": 4.0, "memory_mb": 8192}, MONTH_START - dt.timedelta(hours=20)),  # replayed
    ]


async def _scenario(url: str) -> tuple[Any, Any]:
    await asyncio.to_thread(migrate.upgrade, url)
    platform = build_platform(Settings(database_url=url, data_dir=tempfile.mkdtemp(prefix="billing-closing-")))
    meters = _meters()
    replayed = f"{meters[-1]['id']}:2027-02-28"
    try:
        async with platform.db.session() as session:
            await session.execute(insert(Account), [{"user_id": USER, "plan_id": "pro", "month": "2027-03", "accrued": 0,
                                                     "created_at": MONTH_START - dt.timedelta(days=10),
                                                     "updated_at": MONTH_START}])
            await session.execute(insert(Meter), meters)
            await session.commit()
            p = meter.Pass(now=NOW, horizon=HORIZON,
                           prices=dict((await session.execute(select(Price.key, Price.amount))).all()),  # type: ignore[arg-type]
                           plans={pl.id: pl for pl in (await session.scalars(select(Plan))).all()},
                           accounts={a.user_id: a for a in (await session.scalars(select(Account))).all()})
            # the meter's own rating, on plain copies
            states = [meter.State(r["id"], r["user_id"], r["service"], r["resource_type"], r["resource_id"], r["name"],
                                  r["spec"], r["running_since"], [], r["rated_until"], r["cap_month"], r["cap_used"],
                                  False) for r in meters]
            for state in states:
                meter.rate_meter(state, p, CAP_HOURS)
            owed = dict(p.owed)
            for key, (state, amount, month) in owed.items():
                if key == replayed and month == state.cap_month:  # as meter.run does
                    state.cap_used -= amount
            expected_lines = sorted((r["key"], r["amount"], r["quantity"], r["description"], r["period_start"])
                                    for r in p.rows if r["key"] != replayed)
            expected_meters = sorted((st.id, st.rated_until, st.cap_month, st.cap_used) for st in states)
            expected_pending = dict(p.accrued)
            # the set-based pass, the replayed line already posted
            await ledger.post(session, [ledger.line(replayed, USER, "charge", -1, "2027-02")])
            written, simple = await closing.close(session, p.prices, meter.HOURLY, HORIZON, NOW, CAP_HOURS)
            pending = await closing.pending(session, p.prices, meter.HOURLY, NOW)
            await session.commit()
            got_lines = sorted((e.key, e.amount, e.quantity, e.description, e.period_start)
                               for e in (await session.scalars(select(Entry).where(Entry.kind == "charge",
                                                                                   Entry.key != replayed))).all())
            got_meters = sorted((m.id, m.rated_until, m.cap_month, m.cap_used)
                                for m in (await session.scalars(select(Meter))).all())
            again = await closing.close(session, p.prices, meter.HOURLY, HORIZON, NOW, CAP_HOURS)
            for r in meters:  # the meters as they were before the close, the lines written
                await session.execute(update(Meter).where(Meter.id == r["id"]).values(
                    rated_until=r["rated_until"], cap_month=r["cap_month"], cap_used=r["cap_used"]))
            replay = await closing.close(session, p.prices, meter.HOURLY, HORIZON, NOW, CAP_HOURS)
            await session.rollback()
        assert simple == len(meters) and written == len(expected_lines)
        assert again == (0, 0)  # nothing left to close: not even rated
        assert replay == (0, len(meters))  # a rerun of the same close: nothing twice
        return (got_lines, got_meters, pending), (expected_lines, expected_meters, expected_pending, meters)
    finally:
        await platform.close()


def test_set_based_closing_rates_as_the_meter_does(new_pg_database: str) -> None:
    got, expected = asyncio.run(_scenario(new_pg_database))
    lines, meters, pending = got
    want_lines, want_meters, want_pending, rows = expected
    assert lines == want_lines
    assert meters == want_meters
    assert pending == want_pending and pending[USER] > 0
    # what the scenario covers: the 2-vCPU instance capped at 40 h of 1.1 in February, then charged
    # again in March (a new month's cap); several days closed in one pass
    capped = rows[0]["id"]
    february = [amount for key, amount, *_ in lines if key.startswith(capped) and "2027-02" in key]
    march = [amount for key, amount, *_ in lines if key.startswith(capped) and "2027-03" in key]
    assert len(february) == 3 and -sum(february) == 44_000_000 and march == [-26_400_000]
    assert (capped, NOW.replace(hour=0), "2027-03", 26_400_000) in meters
    assert len(lines) >= 12


async def _in_batches(url: str, monkeypatch: Any) -> tuple[list[dict[str, int]], list[int], int, int]:
    """The meter pass with a closing batch smaller than the meters due: each pass closes a batch, the
    February invoice is issued only by the pass after the last batch, and it holds every February line."""
    from cumulo.core import clock as clocks
    from cumulo.services.billing.models import Invoice
    from cumulo.services.identity.models import User

    monkeypatch.setattr(closing, "BATCH", 3)
    await asyncio.to_thread(migrate.upgrade, url)
    platform = build_platform(Settings(database_url=url, data_dir=tempfile.mkdtemp(prefix="billing-batches-")))
    clocks.install(asyncio.get_running_loop(), clocks.ManualClock(NOW))
    try:
        async with platform.db.session() as session:
            await session.execute(insert(User), [{"id": USER, "email": "batches@example.com", "name": "batches",
                                                  "password_hash": "x"}])  # the alerts mail the account's owner
            await session.execute(insert(Account), [{"user_id": USER, "plan_id": "pro", "month": "2027-02",
                                                     "accrued": 0, "created_at": MONTH_START - dt.timedelta(days=10),
                                                     "updated_at": MONTH_START}])
            await session.execute(insert(Meter), _meters())
            await session.commit()
        passes, invoices = [], []
        for _ in range(5):
            passes.append(await meter.run(platform))
            async with platform.db.session() as session:
                invoices.append(len((await session.scalars(select(Invoice))).all()))
        async with platform.db.session() as session:
            invoice = (await session.scalars(select(Invoice))).one()
            february = sum(-e.amount for e in (await session.scalars(
                select(Entry).where(Entry.kind == "charge", Entry.month == "2027-02"))).all())
        return passes, invoices, invoice.charges, february
    finally:
        clocks.uninstall(asyncio.get_running_loop())
        await platform.close()


def test_a_closing_pass_closes_a_batch_and_the_month_is_invoiced_once_all_are_closed(
        new_pg_database: str, monkeypatch: Any) -> None:
    passes, invoices, charged, february = asyncio.run(_in_batches(new_pg_database, monkeypatch))
    charges = [p["charges"] for p in passes]
    # 4 simply-running instances in batches of 3 (the other meters are rated apart, at once): the
    # first pass leaves one instance's days open and issues no invoice; the second closes them and
    # issues February's, once; then nothing is left to charge
    assert charges[0] > 0 and charges[1] > 0 and charges[2:] == [0, 0, 0]
    assert invoices == [0, 1, 1, 1, 1]
    assert charged == february > 0

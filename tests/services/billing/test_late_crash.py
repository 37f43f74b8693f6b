"""A run whose end is learnt after its day was charged (a crash noticed late: ``instance.failed``
with the engine's stop time) gets the over-charged part of that day back as one ``refund`` line,
once however many passes run; usage and the balance show what really ran. On both databases, with
the test clock; no Docker (the events are recorded as the compute reconciler records them)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from cumulo.client import Client
from cumulo.core.clock import iso
from tests.services.billing.conftest import Billed, _billed
from tests.services.billing.test_billing import charges, span

pytestmark = pytest.mark.xdist_group("billing")
HOUR = 3600
RATE = 0.5 + 2 * 0.2 + 2 * 0.1  # a 2-core 2 GiB instance, an hour


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def capped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Billed]:
    """A server whose monthly cap is 10 hours of a resource's price."""
    yield from _billed(tmp_path_factory, request.param, billing_monthly_cap_hours=10)


def to(billed: Billed, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """Today at that time (later than now)."""
    moment = billed.clock.now.replace(hour=hour, minute=minute, second=second, microsecond=0)
    assert moment >= billed.clock.now
    billed.clock.now = moment
    return moment


def launch(billed: Billed, user_id: str) -> str:
    rid = str(uuid.uuid4())
    billed.record(user_id, "instance.created", "instance", rid, name=f"vm-{rid[:6]}", cpus=2, memory_mb=2048)
    billed.record(user_id, "instance.launched", "instance", rid, name=f"vm-{rid[:6]}")
    return rid


def crash(billed: Billed, user_id: str, rid: str, stopped_at: dt.datetime) -> None:
    """As the compute reconciler records a container found exited: now, with Docker's stop time."""
    billed.record(user_id, "instance.failed", "instance", rid, reason="exit code 137", stopped_at=iso(stopped_at))


def refunds(client: Client) -> list[dict]:
    return client.billing.transactions(limit=1000, kind="refund")


def of(lines: list[dict], rid: str) -> list[dict]:
    return [e for e in lines if e["resource_id"] == rid]


def usage_of(client: Client, billed: Billed, rid: str) -> dict:
    (item,) = [i for i in client.billing.usage(group_by="resource", **span(billed))["items"]
               if i["resource_id"] == rid]
    return item


def test_a_crash_noticed_after_its_day_closed_is_refunded_once(billed: Billed) -> None:
    client, user_id = billed.user("pro")
    billed.close_day()
    day = to(billed, 10)
    rid = launch(billed, user_id)
    billed.meter()
    billed.close_day()
    billed.meter()  # the day is charged as running through its end: 14 h
    (charge,) = of(charges(client), rid)
    assert charge["quantity"] == 14 and charge["amount"] == pytest.approx(-14 * RATE)
    to(billed, 3)
    crash(billed, user_id, rid, day + dt.timedelta(hours=6))  # it had stopped at 16:00, noticed at 03:00 next day
    billed.meter()
    billed.meter()  # a rerun refunds nothing twice
    billed.close_day()
    billed.meter()
    (refund,) = of(refunds(client), rid)
    assert refund["amount"] == pytest.approx(8 * RATE) and refund["quantity"] == -8
    assert refund["period_start"] == iso(day.replace(hour=0)) and refund["key"] == f"{charge['key']}:refund"
    assert of(charges(client), rid) == [charge]  # nothing charged after the stop
    item = usage_of(client, billed, rid)
    assert item["quantity"] == 6 and item["amount"] == pytest.approx(6 * RATE)  # what really ran
    balance = client.billing.balance()
    assert balance["pending"] == 0 and balance["balance"] == pytest.approx(150 - 6 * RATE)
    usage = client.billing.usage(group_by="day", **span(billed))
    assert usage["total"] == pytest.approx(6 * RATE) == pytest.approx(sum(i["amount"] for i in usage["items"]))


def test_a_refund_keeps_the_minute_minimum(billed: Billed) -> None:
    """A run shorter than 60 s costs 60 s: its late end gives back only what was charged beyond that."""
    client, user_id = billed.user("pro")
    billed.close_day()
    day = to(billed, 23, 58)
    long_run = launch(billed, user_id)  # charged 120 s at the close, ran 90 s
    to(billed, 23, 59)
    short_run = launch(billed, user_id)  # charged 60 s at the close, ran 20 s: billed a minute anyway
    billed.meter()
    billed.close_day()
    billed.meter()
    to(billed, 1)
    crash(billed, user_id, long_run, day + dt.timedelta(seconds=90))
    crash(billed, user_id, short_run, day + dt.timedelta(seconds=80))
    billed.meter()
    billed.meter()
    assert of(refunds(client), short_run) == []
    (refund,) = of(refunds(client), long_run)
    assert refund["amount"] == pytest.approx(30 * RATE / HOUR, abs=1e-6)
    assert usage_of(client, billed, long_run)["amount"] == pytest.approx(90 * RATE / HOUR, abs=1e-6)
    assert usage_of(client, billed, short_run)["amount"] == pytest.approx(60 * RATE / HOUR, abs=1e-6)


def test_a_refund_under_the_monthly_cap_gives_back_only_what_was_charged(capped: Billed) -> None:
    """Capped at 10 h a month: a day charged 10 h of 24 that really ran 8 h gets 2 h back (and 2 h of
    room under the cap again); one that ran 12 h was charged under the cap anyway: nothing back."""
    client, user_id = capped.user("pro")
    capped.close_day()
    started = capped.clock.now
    eight, twelve = launch(capped, user_id), launch(capped, user_id)
    capped.close_day()
    capped.meter()
    assert [e["amount"] for e in of(charges(client), eight) + of(charges(client), twelve)] == \
        [pytest.approx(-10 * RATE), pytest.approx(-10 * RATE)]
    to(capped, 2)
    crash(capped, user_id, eight, started + dt.timedelta(hours=8))
    crash(capped, user_id, twelve, started + dt.timedelta(hours=12))
    capped.meter()
    capped.meter()
    assert of(refunds(client), twelve) == []
    (refund,) = of(refunds(client), eight)
    assert refund["amount"] == pytest.approx(2 * RATE)
    to(capped, 4)
    capped.record(user_id, "instance.started", "instance", eight)  # started again: the cap's room is 2 h
    capped.close_day()
    capped.meter()
    capped.meter()
    again = [e for e in of(charges(client), eight) if e["period_start"] != refund["period_start"]]
    assert [e["amount"] for e in again] == [pytest.approx(-2 * RATE)]
    assert usage_of(client, capped, eight)["amount"] == pytest.approx(10 * RATE)
    assert usage_of(client, capped, twelve)["amount"] == pytest.approx(10 * RATE)

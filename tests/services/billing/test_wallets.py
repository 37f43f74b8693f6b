"""What the issue asks of credits and budgets that the other modules do not pin down: paid credits
(vouchers, administrators' grants) outlive the month while the month's unused granted credits expire,
and a budget's forecast (this month's use extrapolated to its end) mails once and records an event.
This module moves its own server's clock across months (test clock, both databases)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.services.billing.conftest import Billed
from tests.services.billing.test_billing import run_instance

pytestmark = pytest.mark.xdist_group("billing")


def _next_month(now: dt.datetime) -> dt.datetime:
    return (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=32)).replace(day=1)


def test_paid_credits_outlive_the_month_and_granted_ones_expire(billed: Billed) -> None:
    client, user_id = billed.user("pro")  # 150 granted credits this month
    admin = billed.admin()
    admin.billing.grant(user_id, 20, "test: bought credits", wallet="paid")
    billed.to_next_hour()
    run_instance(billed, user_id, 10)  # 11 credits, from the granted ones first
    billed.close_day()
    billed.meter()
    balance = client.billing.balance()
    assert balance["balance"] == pytest.approx(150 + 20 - 11, abs=1e-6)
    assert balance["granted"] == pytest.approx(150 - 11, abs=1e-6) and balance["paid"] == pytest.approx(20)
    month = billed.clock.now.strftime("%Y-%m")
    billed.clock.now = _next_month(billed.clock.now) + dt.timedelta(hours=1)
    billed.meter()
    billed.meter()  # a second pass expires and grants nothing twice
    lines = client.billing.transactions(limit=1000)
    expired = [e for e in lines if e["kind"] == "expiry"]
    assert [(e["month"], e["amount"]) for e in expired] == [(month, pytest.approx(-(150 - 11), abs=1e-6))]
    balance = client.billing.balance()
    assert balance["balance"] == pytest.approx(150 + 20, abs=1e-6)  # the new month's grant, and the paid 20
    assert balance["paid"] == pytest.approx(20) and balance["granted"] == pytest.approx(150)


def test_a_budget_forecast_over_the_budget_mails_once(billed: Billed) -> None:
    billed.clock.now = _next_month(billed.clock.now) + dt.timedelta(days=1)  # a day into a month
    client, user_id = billed.user("pro")
    email = client.identity.me()["email"]
    client.billing.subscribe(budget=5)
    billed.to_next_hour()
    run_instance(billed, user_id, 1, cpus=1, memory_mb=1024)  # 0.8 credits: 16 % of the budget, but at this
    billed.advance(120)  # rate (0.8 in the month's first day or so) about 20 credits by the month's end
    billed.meter()
    billed.meter()
    subjects = billed.mails(email)
    forecast = [s for s in subjects if "at this rate you will spend" in s]
    assert len(forecast) == 1  # (the subject goes on: "... this month, over your budget of 5")
    assert not any("of your monthly budget" in s for s in subjects)  # the actual use is under 50 %
    events = [e for e in client.get("/events", params={"limit": 100}) if e["action"] == "billing.threshold"]
    assert [e["data"]["what"] for e in events] == ["budget_forecast"]

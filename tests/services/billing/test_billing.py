"""Billing on both databases, driven by recorded state changes and a test clock (no Docker): the
meter rates what the audit outbox says, exactly once."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path

import pytest

from cumulo.client import ApiError, Client
from tests.services.billing.conftest import Billed

pytestmark = pytest.mark.xdist_group("billing")
HOUR = 3600


def span(billed: Billed) -> dict[str, str]:
    """A range around everything this module does."""
    return {"start": (billed.clock.now - dt.timedelta(days=100)).isoformat(),
            "end": (billed.clock.now + dt.timedelta(days=100)).isoformat()}


def charges(client: Client) -> list[dict]:
    return client.billing.transactions(limit=1000, kind="charge")


def total(entries: list[dict]) -> float:
    return round(-sum(e["amount"] for e in entries), 6)


def run_instance(billed: Billed, user_id: str, hours: float, cpus: float = 2, memory_mb: int = 2048) -> str:
    """An instance recorded as created, running for ``hours`` and stopped (clock moved meanwhile)."""
    rid = str(uuid.uuid4())
    billed.record(user_id, "instance.created", "instance", rid, name="web", cpus=cpus, memory_mb=memory_mb)
    billed.record(user_id, "instance.launched", "instance", rid, name="web")
    billed.advance(hours * HOUR)
    billed.record(user_id, "instance.stop_requested", "instance", rid, name="web")
    billed.record(user_id, "instance.stopped", "instance", rid, name="web")
    return rid


def test_plans_and_prices_are_the_seeds(billed: Billed) -> None:
    client = Client(billed.live.url)
    plans = {p["id"]: p for p in client.billing.plans()}
    assert {k: p["monthly_credits"] for k, p in plans.items()} == {"free": 15, "pro": 150, "unlimited": 600,
                                                                    "payg": 0}
    assert plans["payg"]["overage"] and not plans["free"]["overage"]
    prices = {p["key"]: p["amount"] for p in client.billing.prices()}
    assert prices["instance.hour"] == 0.5 and prices["instance.core_hour"] == 0.2
    assert prices["instance.gb_ram_hour"] == 0.1 and prices["volume.gb_once"] == 0.05


def test_three_hours_of_2_cores_2_gib_cost_3_3_once(billed: Billed) -> None:
    client, user_id = billed.user("pro")
    assert client.billing.balance()["balance"] == 150
    billed.to_next_hour()
    rid = run_instance(billed, user_id, 3)
    billed.advance(120)
    billed.meter()
    # the day is open: nothing posted yet, the ongoing balance counts it
    balance = client.billing.balance()
    assert charges(client) == [] and balance["pending"] == 3.3 and balance["balance"] == pytest.approx(146.7)
    billed.close_day()
    billed.meter()
    billed.meter()  # a second pass charges nothing twice
    billed.restart()  # a new server process on the same database
    client = Client(billed.live.url, api_key=client.api_key)
    billed.meter()
    lines = charges(client)
    assert total(lines) == 3.3 and {e["resource_id"] for e in lines} == {rid}
    assert len({e["key"] for e in lines}) == len(lines) == len({e["period_start"] for e in lines})  # one a day
    balance = client.billing.balance()
    assert balance["balance"] == pytest.approx(146.7) and balance["pending"] == 0
    # stopped: costs nothing while stopped
    billed.advance(5 * HOUR)
    billed.close_day()
    billed.meter()
    assert total(charges(client)) == 3.3
    usage = client.billing.usage(group_by="service", **span(billed))
    assert usage["items"] == [{"service": "compute", "quantity": 3.0, "unit": "hour", "amount": 3.3}]
    assert usage["total"] == 3.3
    by_resource = client.billing.usage(group_by="resource", **span(billed))
    assert by_resource["items"][0]["resource_id"] == rid and by_resource["items"][0]["amount"] == 3.3


def test_two_meters_at_once_charge_once(billed: Billed) -> None:
    """Two server processes on one database run the meter at the same moment."""
    client, user_id = billed.user("pro")
    billed.to_next_hour()
    run_instance(billed, user_id, 2, cpus=1, memory_mb=1024)  # 0.8 / h
    billed.close_day()
    second = billed.start(billed.live.settings.model_copy(update={"port": 0}) if False else
                          _sibling(billed))
    from cumulo.services.billing import meter

    try:
        results: list[object] = []
        threads = [threading.Thread(target=lambda live=live: results.append(live.call(meter.run(live.platform))))
                   for live in (billed.live, second, billed.live, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        second.stop()
    assert total(charges(client)) == 1.6


def _sibling(billed: Billed):  # type: ignore[no-untyped-def]
    from cumulo.testing.server import free_port

    return billed.live.settings.model_copy(update={"port": free_port(), "s3_port": free_port(),
                                                   "proxy_http_port": free_port(), "proxy_https_port": free_port()})


def test_short_runs_bill_a_minute_and_running_is_pending_within_the_hour(billed: Billed) -> None:
    client, user_id = billed.user("pro")
    billed.to_next_hour()
    run_instance(billed, user_id, 10 / HOUR)  # 10 seconds: billed as 60
    rid = str(uuid.uuid4())
    billed.record(user_id, "instance.created", "instance", rid, name="api", cpus=1, memory_mb=1024)
    billed.record(user_id, "instance.started", "instance", rid, name="api")
    billed.advance(30 * 60)
    billed.meter()
    balance = client.billing.balance()
    # nothing posted yet (the hour is open), the ongoing balance counts it: 1.1/60 + 0.8/2
    assert charges(client) == []
    assert balance["pending"] == pytest.approx(1.1 / 60 + 0.4, abs=1e-5)
    assert balance["balance"] == pytest.approx(150 - 1.1 / 60 - 0.4, abs=1e-5)
    billed.advance(31 * 60)
    billed.record(user_id, "instance.stopped", "instance", rid, name="api")
    billed.close_day()
    billed.meter()
    assert total(charges(client)) == pytest.approx(1.1 / 60 + 0.8 * 3660 / 3600, abs=1e-5)  # 10 s, then 61 min


def test_plan_limits_are_quotas_and_downgrade_is_refused(billed: Billed) -> None:
    from cumulo.services.quotas import service as quotas

    client, user_id = billed.user("free")

    async def limits() -> dict[str, float]:
        async with billed.live.platform.db.session() as session:  # type: ignore[union-attr]
            return await quotas.limits_for(session, billed.live.platform, user_id)

    found = billed.run(limits())
    assert found["buckets"] == 5 and found["instance_vcpus"] == 2
    assert found["databases"] == found["caches"] == found["load_balancers"] == 1
    reported = {q["kind"]: q["limit"] for q in client.get("/quotas")}
    assert reported["buckets"] == 5 and reported["instance_vcpus"] == 2 and reported["queues"] == 100  # a setting
    for i in range(5):
        client.storage.create_bucket(f"b{i}-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ApiError) as err:
        client.storage.create_bucket(f"b6-{uuid.uuid4().hex[:8]}")
    assert err.value.status == 403 and err.value.code == "QUOTA_EXCEEDED"
    client.billing.subscribe("pro")
    extra = f"b7-{uuid.uuid4().hex[:8]}"
    client.storage.create_bucket(extra)
    with pytest.raises(ApiError) as err:
        client.billing.subscribe("free")
    assert err.value.status == 409 and "buckets 6 > 5" in err.value.message
    assert client.billing.subscription()["plan"] == "pro"
    client.storage.delete_bucket(extra)
    assert client.billing.subscribe("free")["plan"] == "free"


def test_thresholds_mail_once_each(billed: Billed) -> None:
    client, user_id = billed.user("free")  # 15 credits
    email = client.identity.me()["email"]
    billed.to_next_hour()
    run_instance(billed, user_id, 7)  # 7.7 credits: past 50 %
    billed.advance(120)
    billed.meter()
    billed.meter()
    assert billed.mails(email) == ["Subject: Cumulo billing: you have used 50% of this month's 15 credits"]
    run_instance(billed, user_id, 4)  # 12.1: past 80 %
    billed.advance(120)
    billed.meter()
    billed.meter()
    assert sorted(billed.mails(email)) == ["Subject: Cumulo billing: you have used 50% of this month's 15 credits",
                                           "Subject: Cumulo billing: you have used 80% of this month's 15 credits"]
    actions = [e["action"] for e in client.get("/events", params={"limit": 100})]
    assert actions.count("billing.threshold") == 2


def test_budget_thresholds(billed: Billed) -> None:
    client, user_id = billed.user("pro")
    email = client.identity.me()["email"]
    assert client.billing.subscribe(budget=2)["budget"] == 2
    billed.to_next_hour()
    run_instance(billed, user_id, 1)  # 1.1 of a budget of 2: 50 %, not 80 %
    billed.advance(120)
    billed.meter()
    subjects = billed.mails(email)
    assert any("50% of your monthly budget" in s for s in subjects)
    assert not any("80% of your monthly budget" in s for s in subjects)
    billed.meter()
    assert billed.mails(email) == subjects


def test_zero_balance_refuses_launches(billed: Billed) -> None:
    client, user_id = billed.user("free")
    admin = billed.admin()
    admin.billing.grant(user_id, -15, "test: use the month's credits")
    billed.meter()
    balance = client.billing.balance()
    assert balance["balance"] == 0 and balance["exhausted"]
    with pytest.raises(ApiError) as err:
        client.post("/instances", {"name": "refused", "image": "cumulo/busybox"})
    assert err.value.status == 402 and err.value.code == "INSUFFICIENT_CREDITS"
    voucher = admin.billing.create_voucher(5)
    client.billing.redeem(voucher["code"])
    with pytest.raises(ApiError) as err:
        client.billing.redeem(voucher["code"])
    assert err.value.status == 409
    billed.meter()
    assert client.billing.balance() | {} and not client.billing.balance()["exhausted"]
    assert client.billing.balance()["balance"] == 5


def test_volumes_are_charged_once_per_gb(billed: Billed) -> None:
    client, user_id = billed.user("pro")
    vid = str(uuid.uuid4())
    billed.record(user_id, "volume.created", "volume", vid, name="data", size_gb=20)
    billed.meter()
    billed.meter()
    lines = charges(client)
    assert [(e["resource_id"], e["amount"]) for e in lines] == [(vid, -1.0)]  # 20 GB x 0.05


def test_vm_disks_are_charged_like_volumes(billed: Billed) -> None:
    """A VM disk made, uploaded or cloned (once the copy is done) costs its GB once, like a volume;
    an unfinished clone or a resize costs nothing more; on a plan billing GiB-months it costs them until
    it is deleted."""
    client, user_id = billed.user("pro")
    made, uploaded, cloned = (str(uuid.uuid4()) for _ in range(3))
    billed.record(user_id, "disk.created", "disk", made, name="root", size_gb=10)
    billed.record(user_id, "disk.uploaded", "disk", uploaded, name="image", size_gb=3)
    billed.record(user_id, "disk.clone_started", "disk", cloned, name="copy", source=made)
    billed.meter()
    assert sorted((e["resource_id"], e["amount"]) for e in charges(client)) == sorted(
        [(made, -0.5), (uploaded, -0.15)])  # 10 GB and 3 GB x 0.05; the clone is not made yet
    billed.record(user_id, "disk.clone_done", "disk", cloned, name="copy", size_gb=10, format="qcow2")
    billed.record(user_id, "disk.resize_done", "disk", made, name="root", old_size_gb=10, size_gb=20)
    billed.meter()
    billed.meter()
    lines = [e for e in charges(client) if e["service"] == "disks"]
    assert sorted(-e["amount"] for e in lines) == [0.15, 0.5, 0.5] and {e["unit"] for e in lines} == {"GB"}
    payg, payg_id = billed.user("payg")
    billed.to_next_hour()
    disk = str(uuid.uuid4())
    billed.record(payg_id, "disk.created", "disk", disk, name="data", size_gb=73)
    billed.advance(10 * HOUR)
    billed.record(payg_id, "disk.deleted", "disk", disk, name="data")
    billed.close_day()
    billed.meter()
    hourly = [e for e in charges(payg) if e["unit"] == "hour" and e["resource_id"] == disk]
    assert total(hourly) == pytest.approx(73 * 0.01 * 10 / 730, abs=2e-6)


def test_volume_gib_month_on_payg_and_object_storage_sampled_hourly(billed: Billed) -> None:
    from cumulo.services.billing import meter

    client, user_id = billed.user("payg")  # its plan bills volumes per GiB-month while they exist
    billed.to_next_hour()
    vid = str(uuid.uuid4())
    billed.record(user_id, "volume.created", "volume", vid, name="data", size_gb=73)
    billed.advance(10 * HOUR)
    billed.record(user_id, "volume.deleted", "volume", vid, name="data")
    billed.close_day()
    billed.meter()
    lines = charges(client)
    # 73 GB x 0.05 once, then 73 GiB x 0.01 a GiB-month (730 h) for 10 h (one line a day: two when the
    # 10 h cross a midnight, as they do when the module's earlier tests leave the clock late in a day)
    once = [e for e in lines if e["unit"] == "GB"]
    assert [-e["amount"] for e in once] == [3.65]
    assert total([e for e in lines if e["unit"] == "hour"]) == pytest.approx(73 * 0.01 * 10 / 730, abs=2e-6)
    admin = billed.admin()
    admin.billing.edit_price("storage.gib_month", 1000)  # big enough for 1 MiB to show
    try:
        bucket = f"meter-{uuid.uuid4().hex[:8]}"
        client.storage.create_bucket(bucket)
        client.storage.put(bucket, "one-mib", b"x" * 1024 * 1024)
        billed.advance(2 * HOUR + 120)
        billed.run(meter.storage_pass(billed.live.platform))
        billed.run(meter.storage_pass(billed.live.platform))  # once per hour
        stored = [e for e in charges(client) if e["service"] == "storage"]
        assert len(stored) == 1 and stored[0]["amount"] == pytest.approx(-1000 / 1024 / 730, abs=1e-6)
    finally:
        admin.billing.edit_price("storage.gib_month", 0.02)


def test_other_users_billing_is_invisible_and_bad_input_is_400(billed: Billed) -> None:
    client, user_id = billed.user("pro")
    other, _ = billed.user("pro")
    billed.to_next_hour()
    run_instance(billed, user_id, 1)
    billed.close_day()
    billed.meter()
    mine = charges(client)
    assert mine and charges(other) == []
    assert other.billing.usage(**span(billed))["items"] == []
    for call in (lambda: client.billing.subscribe("NO PLAN"), lambda: client.billing.subscribe(budget=-1),
                 lambda: client.billing.usage(start="2030-01-02T00:00:00Z", end="2030-01-01T00:00:00Z"),
                 lambda: client.billing.usage(group_by="bogus"), lambda: client.billing.usage(start="yesterday"),
                 lambda: client.billing.transactions(limit=0), lambda: client.billing.transactions(month="2026-13"),
                 lambda: client.billing.redeem("NOT-A-CODE"), lambda: client.put("/billing/subscription", {})):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 400, err.value
    with pytest.raises(ApiError) as err:
        client.billing.subscribe("gold")
    assert err.value.status == 404
    with pytest.raises(ApiError) as err:
        client.post("/billing/credits", {"user_id": user_id, "amount": 100})
    assert err.value.status == 403
    with pytest.raises(ApiError) as err:
        client.billing.edit_price("instance.hour", 0)
    assert err.value.status == 403


def test_admin_edits_plans_and_prices(billed: Billed) -> None:
    admin = billed.admin()
    assert admin.billing.edit_plan("team", name="Team", monthly_credits=300, limits={"instances": 20})["limits"] == \
        {"instances": 20}
    with pytest.raises(ApiError) as err:
        admin.billing.edit_plan("team", limits={"nonsense": 1})
    assert err.value.status == 400
    with pytest.raises(ApiError) as err:
        admin.billing.edit_plan("team", limits={"instances": -1})
    assert err.value.status == 400
    with pytest.raises(ApiError) as err:
        admin.billing.edit_plan("Bad Plan!", name="x")
    assert err.value.status == 400
    with pytest.raises(ApiError) as err:
        admin.billing.edit_price("no.such.price", 1)
    assert err.value.status == 404
    assert admin.billing.edit_price("storage.gib_month", 0.03)["amount"] == 0.03
    client, _ = billed.user("team")
    assert client.billing.balance()["balance"] == 300


def _cli(billed: Billed, client: Client, tmp_path: Path):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from cumulo.cli.main import app

    env = {"XDG_CONFIG_HOME": str(tmp_path), "CUMULO_URL": billed.live.url, "CUMULO_API_KEY": client.api_key or "",
           "COLUMNS": "200"}

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_invoice_at_the_month_end_equals_the_ledger(billed: Billed, tmp_path: Path) -> None:
    client, user_id = billed.user("unlimited")
    month = billed.clock.now.strftime("%Y-%m")
    billed.to_next_hour()
    run_instance(billed, user_id, 2)
    # to the month's end (plus the settle time), with an instance running across it
    rid = str(uuid.uuid4())
    billed.record(user_id, "instance.created", "instance", rid, name="late", cpus=4, memory_mb=4096)
    billed.record(user_id, "instance.started", "instance", rid, name="late")
    first = (billed.clock.now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
             + dt.timedelta(days=32)).replace(day=1)
    billed.clock.now = first + dt.timedelta(hours=1, minutes=5)
    billed.meter()
    invoices = client.billing.invoices()
    assert [i["month"] for i in invoices] == [month]
    invoice = client.billing.invoice(invoices[0]["id"])
    month_charges = [e for e in charges(client) if e["month"] == month]
    assert invoice["total"] == total(month_charges) and invoice["total"] > 2.2
    assert round(sum(line["amount"] for line in invoice["lines"]), 6) == invoice["total"]
    pdf = client.billing.invoice_pdf(invoice["id"])
    assert pdf.startswith(b"%PDF-1.4") and b"CUMULO INVOICE" in pdf and pdf.rstrip().endswith(b"%%EOF")
    # the CLI: usage by service with its daily chart, the invoice as a PDF file
    cli = _cli(billed, client, tmp_path)
    out = cli("billing", "usage", "--by", "service", "--from", span(billed)["start"], "--to", span(billed)["end"])
    assert "compute" in out and "#" in out and f"{invoice['total']:g}" in out
    assert month in cli("billing", "invoices")
    cli("billing", "invoice", invoice["id"], "--pdf", str(tmp_path / "invoice.pdf"))
    assert (tmp_path / "invoice.pdf").read_bytes() == pdf
    assert "pending" in cli("billing", "balance")
    # immutable: later passes leave it as it was; the new month got its credits, the old one's expired
    billed.advance(3 * HOUR)
    billed.meter()
    assert client.billing.invoice(invoice["id"]) == invoice
    everything = client.billing.transactions(limit=1000)
    assert client.billing.balance()["posted"] == pytest.approx(sum(e["amount"] for e in everything), abs=1e-6)
    kinds = {(e["kind"], e["month"]) for e in everything}
    assert ("expiry", month) in kinds and ("grant", first.strftime("%Y-%m")) in kinds
    other, _ = billed.user("pro")
    with pytest.raises(ApiError) as err:
        other.billing.invoice(invoice["id"])
    assert err.value.status == 404

"""Every billable resource in the price table has a metering path, and every metered resource a
price (no server needed: the table, the meter's kinds and what the services declare through
``cumulo.ports.usage``). The charges themselves are tested per kind: instances (test_billing,
test_billing_docker, test_crash_docker), volumes and VM disks, object storage (test_billing),
S3 requests (test_requests), databases and their storage, caches, load balancers, functions and
apps (test_declared)."""

from __future__ import annotations

from cumulo import ports
from cumulo.services.billing import catalog, declared, meter, usage_events

# the price terms ``meter.rate_of`` reads for a resource billed while it runs (or exists)
HOURLY_TERMS = {"hour", "core_hour", "gb_ram_hour", "gib_month"}
# priced by their own paths: volumes' and disks' GB once at creation (usage_events._storage) and
# GiB-month while they exist (meter.rate_of); object storage sampled hourly (meter._storage)
OWN_PATHS = {"volume.gb_once", "volume.gib_month", "storage.gib_month"}


def _consumed_keys() -> set[str]:
    return {declared.price_key(kind, quantity) for kind, source in ports.usage if source.consumed is not None
            for quantity in declared.QUANTITIES}


def test_every_price_in_the_table_has_a_metering_path() -> None:
    consumed = _consumed_keys()
    for key in catalog.PRICES:
        kind, _, term = key.partition(".")
        metered = (kind in meter.HOURLY and term in HOURLY_TERMS) or key in OWN_PATHS or key in consumed
        assert metered, f"{key} is priced but nothing meters it"


def test_every_metered_resource_has_a_price_and_a_source() -> None:
    prices = set(catalog.PRICES)
    for kind in meter.HOURLY:  # billed per second while running: the instance events or a service's states
        assert kind == "instance" or ports.usage.get(kind) is not None, kind
        assert any(p.startswith(f"{kind}.") for p in prices), f"{kind} is metered but has no price"
    for kind, source in ports.usage:
        if source.states is not None:
            assert kind in meter.HOURLY, f"{kind} declares states the meter does not rate"
        if source.consumed is not None:
            assert {declared.price_key(kind, q) for q in declared.QUANTITIES} & prices, f"{kind} has no price"
    for kind in usage_events.STORAGE:  # volumes and disks, priced alike
        assert {"volume.gb_once", "volume.gib_month"} <= prices, kind
    assert set(usage_events.DECLARED) <= {kind for kind, _ in ports.usage}

"""The default plans (VirtCloud's, from its README) and price table, written by the first migration;
the administrator edits them afterwards (``/admin/billing/plans``, ``/admin/billing/prices``)."""

from __future__ import annotations

from typing import Any

GIB = 1024 ** 3

# key: (credits per unit, unit, description)
PRICES: dict[str, tuple[float, str, str]] = {
    "instance.hour": (0.5, "instance-hour", "a running instance or VM, per hour (per second, 60 s minimum)"),
    "instance.core_hour": (0.2, "vCPU-hour", "each vCPU of a running instance, per hour"),
    "instance.gb_ram_hour": (0.1, "GB-hour", "each GB (1024 MB) of memory of a running instance, per hour"),
    "volume.gb_once": (0.05, "GB", "a volume's or VM disk's size, once at creation"),
    "volume.gib_month": (0.01, "GiB-month", "a volume's or disk's size while it exists (volume_gib_month plans)"),
    "storage.gib_month": (0.02, "GiB-month", "object storage, sampled hourly"),
    "storage.thousand_put_requests": (0.005, "1,000 requests", "S3 PUT/COPY/POST/LIST requests, per 1,000 (bucket owner pays)"),
    "storage.thousand_get_requests": (0.0004, "1,000 requests", "S3 GET/HEAD and other reads, per 1,000 (DELETE: free)"),
    "database.hour": (0.6, "database-hour", "a managed database while available, per hour (per second, 60 s minimum)"),
    "database.core_hour": (0.2, "vCPU-hour", "each vCPU of an available managed database, per hour"),
    "database.gb_ram_hour": (0.1, "GB-hour", "each GB of memory of an available managed database, per hour"),
    "database_storage.gib_month": (0.05, "GiB-month", "a managed database's storage while it exists (stopped too)"),
    "cache.hour": (0.3, "cache-hour", "a managed cache while available, per hour (per second, 60 s minimum)"),
    "cache.core_hour": (0.2, "vCPU-hour", "each vCPU of an available managed cache, per hour"),
    "cache.gb_ram_hour": (0.1, "GB-hour", "each GB of memory of an available managed cache, per hour"),
    "app.hour": (0.5, "container-hour", "each running container of an app (its replicas), per hour (per second)"),
    "app.core_hour": (0.2, "vCPU-hour", "each vCPU of an app's running containers (0.5 each), per hour"),
    "app.gb_ram_hour": (0.1, "GB-hour", "each GB of memory of an app's running containers, per hour"),
    "loadbalancer.hour": (0.25, "LB-hour", "a load balancer while it exists, per hour (per second, 60 s minimum)"),
    "function.gb_second": (0.00002, "GB-second", "function run time times its memory, per GB-second"),
    "function.million_invocations": (0.2, "1M invocations", "function invocations, per million"),
}
# the keys a later migration added (billing_0003): a database made before it gets them then
ADDED_0003 = ("database.hour", "database.core_hour", "database.gb_ram_hour", "cache.hour", "cache.core_hour",
              "cache.gb_ram_hour", "loadbalancer.hour", "function.gb_second", "function.million_invocations")
# added by billing_0006
ADDED_0006 = ("database_storage.gib_month",)
# added by billing_0007
ADDED_0007 = ("storage.thousand_put_requests", "storage.thousand_get_requests")
# added by billing_0008
ADDED_0008 = ("app.hour", "app.core_hour", "app.gb_ram_hour")


# the managed services' quota kinds a plan limits as well (billing_0005 adds them to an existing plan)
MANAGED = ("databases", "caches", "load_balancers")


def _limits(instances: int, vcpus: int, memory_gb: int, disk_gb: int, buckets: int, storage_gib: int,
            functions: int, managed: int) -> dict[str, float]:
    return {"instances": instances, "instance_vcpus": vcpus, "instance_memory_mb": memory_gb * 1024,
            "volume_gib": disk_gb, "buckets": buckets, "storage_bytes": storage_gib * GIB, "functions": functions,
            **{kind: managed for kind in MANAGED}}



# id: (name, price per month, monthly credits, overage, limits, features)
PLANS: dict[str, tuple[str, float, float, bool, dict[str, float], dict[str, bool]]] = {
    "free": ("Free", 0.0, 15, False, _limits(2, 2, 2, 20, 5, 5, 5, 1), {}),
    "pro": ("Pro", 9.0, 150, False, _limits(10, 4, 8, 50, 50, 50, 50, 5), {}),
    "unlimited": ("Unlimited", 29.0, 600, False, _limits(50, 8, 16, 200, 100, 200, 100, 20), {}),
    "payg": ("Pay-as-you-Go", 0.0, 0, True, _limits(50, 8, 16, 200, 100, 200, 100, 20), {"volume_gib_month": True}),
}


def add_prices(bind: Any, keys: tuple[str, ...]) -> None:
    """A migration's new price keys, at their default, into an existing price table (a key already
    there, perhaps edited by the administrator, is kept)."""
    import datetime as dt

    import sqlalchemy as sa

    insert = sa.text("INSERT INTO billing_prices (key, amount, unit, description, updated_at) "
                     "SELECT CAST(:key AS VARCHAR(64)), :amount, :unit, :description, :now WHERE NOT EXISTS "
                     "(SELECT 1 FROM billing_prices WHERE key = CAST(:key AS VARCHAR(64)))")
    now = dt.datetime.now(dt.UTC)
    for key in keys:
        value, unit, text = PRICES[key]
        bind.execute(insert, {"key": key, "amount": round(value * 1_000_000), "unit": unit, "description": text,
                              "now": now})


def remove_prices(bind: Any, keys: tuple[str, ...]) -> None:
    import sqlalchemy as sa

    bind.execute(sa.text("DELETE FROM billing_prices WHERE key IN :keys")
                 .bindparams(sa.bindparam("keys", expanding=True)), {"keys": list(keys)})

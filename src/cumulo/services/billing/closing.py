"""The meter pass over running resources, set-based, on PostgreSQL: one statement rates every closed
day of every simply-running meter (running since a moment, no closed run waiting: nearly all of them)
into the ledger and moves the meters and accounts on; one query sums the open day per account.

The same rules as ``meter.rate_meter`` (which rates the other meters, and every meter on SQLite):
per second, the day's lines keyed ``<meter>:<day>`` (``ON CONFLICT DO NOTHING``: a rerun writes
nothing), the monthly cap (``least(cumulated, room) - least(cumulated before, room)``: the running
minimum of sequential capped charges), ``cap_used`` counting only the lines actually written."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.services.billing import rating

# the meters this module rates (the others: ``meter.rate_meter``)
SIMPLE = "m.running_since IS NOT NULL AND (m.segments IS NULL OR CAST(m.segments AS text) = '[]')"

_METERS = f"""
price AS (
  SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:hour AS float8[]), CAST(:core AS float8[]),
                       CAST(:ram AS float8[]), CAST(:gib AS float8[])) AS p(kind, hour, core, ram, gib)
), m AS (
  SELECT m.id, m.user_id, m.running_since, m.cap_month, m.cap_used, round(p.hour * COALESCE(CAST(m.spec->>'count' AS float8), 1)
                           + p.core * COALESCE(CAST(m.spec->>'cpus' AS float8), 0)
                           + p.ram * COALESCE(CAST(m.spec->>'memory_mb' AS float8), 0) / 1024
                           + p.gib * COALESCE(CAST(m.spec->>'size_gb' AS float8), 0)) AS rate,
         greatest(COALESCE(m.rated_until, m.running_since), a.created_at) AS begin
  FROM billing_meters m JOIN billing_accounts a ON a.user_id = m.user_id JOIN billing_plans pl ON pl.id = a.plan_id
       JOIN price p ON p.kind = m.resource_type
  WHERE {SIMPLE}
)"""

# at most this many meters' days are closed by one pass (the next pass, CUMULO_BILLING_METER_SECONDS later,
# goes on): a pass's work stays bounded however many resources run; the balance is right meanwhile
# (``pending`` sums the days not closed yet) and a month is invoiced only once all its days are closed
BATCH = 2500

CLOSE = text(f"""
WITH {_METERS}, due AS (
  SELECT * FROM m WHERE m.rate > 0 AND m.begin < CAST(:midnight AS timestamptz) ORDER BY m.id LIMIT :batch
), s AS (
  SELECT m.*, slot, to_char(slot AT TIME ZONE 'UTC', 'YYYY-MM') AS month,
         to_char(slot AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
         CAST(extract(epoch FROM slot + interval '24 hours' - greatest(slot, m.begin, m.running_since)) AS float8)
           AS seconds
  FROM due m, generate_series(date_trunc('day', m.begin AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                              CAST(:horizon AS timestamptz) - interval '24 hours', interval '24 hours') AS slot
), c AS (
  SELECT s.*, round(s.rate * s.seconds / 3600) AS raw,
         greatest(0, round(s.rate * :cap_hours) - CASE WHEN s.cap_month = s.month THEN s.cap_used ELSE 0 END) AS room,
         sum(round(s.rate * s.seconds / 3600)) OVER (PARTITION BY s.id, s.month ORDER BY s.slot) AS cum
  FROM s WHERE s.seconds > 0
), rated AS (
  SELECT c.*, CAST(least(c.cum, c.room) - least(c.cum - c.raw, c.room) AS bigint) AS amount,
         c.id || ':' || c.day AS key FROM c
), ins AS (
  INSERT INTO billing_ledger (id, key, user_id, kind, wallet, amount, month, service, resource_type, resource_id,
                              quantity, unit, description, period_start, period_end, created_at)
  SELECT CAST(gen_random_uuid() AS text), r.key, r.user_id, 'charge', 'granted', -r.amount, r.month, bm.service,
         bm.resource_type, bm.resource_id, CAST(round(CAST(r.seconds / 3600 AS numeric), 6) AS float8), 'hour',
         left(CASE WHEN bm.spec->>'cpus' IS NOT NULL
                   THEN bm.resource_type || ' ' || bm.name || ' (' || CAST(CAST(bm.spec->>'cpus' AS float8) AS text)
                        || ' vCPU, ' || (bm.spec->>'memory_mb') || ' MB)'
                   WHEN bm.resource_type = 'loadbalancer' THEN 'load balancer ' || bm.name
                   WHEN bm.spec->>'size_gb' IS NOT NULL
                   THEN bm.resource_type || ' ' || bm.name || ' (' || (bm.spec->>'size_gb') || ' GB)'
                   ELSE bm.resource_type || ' ' || bm.name END
              || ': ' || to_char(r.seconds / 3600, 'FM9999990.0000') || ' h', 300),
         r.slot, r.slot + interval '24 hours', CAST(:now AS timestamptz)
  FROM rated r JOIN billing_meters bm ON bm.id = r.id WHERE r.amount > 0
  ON CONFLICT (key) DO NOTHING
  RETURNING key, user_id, amount
), closed AS (
  SELECT id, max(slot) + interval '24 hours' AS until FROM s GROUP BY id
), last AS (
  SELECT DISTINCT ON (id) id, month FROM c ORDER BY id, slot DESC
), written AS (
  SELECT r.id, r.month, sum(-ins.amount) AS amount FROM ins JOIN rated r ON r.key = ins.key GROUP BY r.id, r.month
), meters AS (
  UPDATE billing_meters bm SET rated_until = closed.until, cap_month = COALESCE(last.month, bm.cap_month),
         cap_used = CASE WHEN last.month IS NULL THEN bm.cap_used
                         WHEN last.month = bm.cap_month THEN bm.cap_used + COALESCE(w.amount, 0)
                         ELSE COALESCE(w.amount, 0) END
  FROM closed LEFT JOIN last ON last.id = closed.id LEFT JOIN written w ON w.id = closed.id AND w.month = last.month
  WHERE bm.id = closed.id
  RETURNING bm.id
), accounts AS (
  UPDATE billing_accounts ba SET posted = ba.posted + d.delta
  FROM (SELECT user_id, sum(amount) AS delta FROM ins GROUP BY user_id) AS d WHERE ba.user_id = d.user_id
  RETURNING ba.user_id
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM meters), (SELECT count(*) FROM accounts)
""")

OPEN = text(f"""
WITH {_METERS}
SELECT m.user_id, CAST(sum(round(m.rate * CAST(extract(epoch FROM CAST(:now AS timestamptz)
                                                         - greatest(m.begin, m.running_since)) AS float8) / 3600))
                       AS bigint)
FROM m WHERE m.rate > 0 AND CAST(:now AS timestamptz) > m.begin GROUP BY m.user_id
""")


def _prices(prices: dict[str, int], kinds: tuple[str, ...]) -> dict[str, list[Any]]:
    return {"kinds": list(kinds), "hour": [float(prices.get(f"{k}.hour", 0)) for k in kinds],
            "core": [float(prices.get(f"{k}.core_hour", 0)) for k in kinds],
            "ram": [float(prices.get(f"{k}.gb_ram_hour", 0)) for k in kinds],
            "gib": [float(prices.get(f"{k}.gib_month", 0)) / rating.MONTH_HOURS for k in kinds]}


# is there a day to close? (most passes: none; a scan that stops at the first meter behind)
# (a day [d, d + 24 h) closes when d + 24 h <= horizon, so when the meter's begin is before the
# horizon's midnight; its begin is at least COALESCE(rated_until, running_since))
DUE = text(f"SELECT 1 FROM billing_meters m WHERE {SIMPLE} AND "
           "COALESCE(m.rated_until, m.running_since) < CAST(:midnight AS timestamptz) LIMIT 1")


async def close(session: AsyncSession, prices: dict[str, int], kinds: tuple[str, ...], horizon: dt.datetime,
                now: dt.datetime, cap_hours: float) -> tuple[int, int]:
    """Rate every closed day of up to ``BATCH`` of the simple meters; (lines written, meters moved on: 0
    when no day closed; ``BATCH``: others may be left for the next pass)."""
    midnight = rating.floor_slot(horizon)
    if (await session.execute(DUE, {"midnight": midnight})).first() is None:
        return 0, 0
    row = (await session.execute(CLOSE, {**_prices(prices, kinds), "horizon": horizon, "now": now,
                                         "cap_hours": cap_hours, "midnight": midnight, "batch": BATCH})).one()
    return int(row[0]), int(row[1])


async def pending(session: AsyncSession, prices: dict[str, int], kinds: tuple[str, ...],
                  now: dt.datetime) -> dict[str, int]:
    """The open (not yet posted) part of the simple meters, per account."""
    rows = await session.execute(OPEN, {**_prices(prices, kinds), "now": now})
    return {user_id: int(amount or 0) for user_id, amount in rows.all()}

"""The meter pass: rate every closed day of every billed resource into the ledger, keep the
ongoing (not yet posted) usage of each account, roll months over (expire unused granted credits,
grant the new month's, issue the invoice), then check thresholds and the zero balance.

One pass at a time across processes (``locks.hold(session, "billing:meter")``), and each charge
has a unique key ``<resource>:<day>``: two meters, a rerun or a restart post nothing twice.

Where the meters come from: the outbox (``usage_events``: instances, volumes, disks), and what the other
services declare through ``cumulo.ports.usage`` (``declared``: databases, caches, load balancers,
functions, S3 requests). Who rates them: on PostgreSQL, one statement for every simply-running meter
(``closing``); ``rate_meter`` here for the others (closed runs waiting, volumes), and for all on SQLite."""

from __future__ import annotations

import datetime as dt
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, Text, and_, bindparam, cast, delete, not_, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.ids import new_id
from cumulo.db import locks
from cumulo.platform import Platform
from cumulo.runtime import outbox
from cumulo.services.billing import alerts, closing, declared, invoices, ledger, rating, refunds, usage_events
from cumulo.services.billing.models import Account, Meter, Plan, Price

GIB = 1024 ** 3
MONTH_HOURS = rating.MONTH_HOURS
# billed per second while running (or available, or existing): the prefix of their price keys
# (<prefix>.hour, <prefix>.core_hour, <prefix>.gb_ram_hour, <prefix>.gib_month by the spec's size_gb;
# a key not in the table costs nothing). database_storage: a database's disk, while the database exists
# an app: its running containers (``count`` of them: <prefix>.hour each, with their vCPUs and memory)
HOURLY = ("instance", "database", "database_storage", "cache", "loadbalancer", "app")
# meters not rated by the pass over running resources: object storage (its own hourly sample), the
# consumption meters (functions, S3 requests per bucket) and their read marks (``declared.consume``)
NOT_TIMED = ("storage", "function", "bucket", declared.MARK)


@dataclass(slots=True)
class State:
    """A meter row as the pass reads and changes it (plain values: ten times cheaper than ORM objects
    for the 10,000s of rows of one pass)."""

    id: str
    user_id: str
    service: str
    resource_type: str
    resource_id: str
    name: str
    spec: dict[str, Any]
    running_since: dt.datetime | None
    segments: list[list[str]]
    rated_until: dt.datetime | None
    cap_month: str
    cap_used: int
    gone: bool

    def snapshot(self) -> tuple[Any, ...]:
        return self.rated_until, self.cap_month, self.cap_used, len(self.segments or [])


# spec and segments come as text: most resources share a few specs (decoded once per pass) and have
# no closed run ("[]"), so a pass over 10,000s of rows decodes almost no JSON
COLUMNS = (Meter.id, Meter.user_id, Meter.service, Meter.resource_type, Meter.resource_id, Meter.name,
           cast(Meter.spec, Text), Meter.running_since, cast(Meter.segments, Text), Meter.rated_until, Meter.cap_month,
           Meter.cap_used, Meter.gone)
_T = typing.cast(Table, Meter.__table__)  # declarative types __table__ as FromClause; a mapped class's is its Table
# PostgreSQL: every changed meter in one statement (arrays), not 10,000 executions
_PG_SAVE = text("UPDATE billing_meters AS m SET segments = CAST(v.segments AS json), rated_until = v.rated_until, "
                "cap_month = v.cap_month, cap_used = v.cap_used FROM unnest(CAST(:ids AS text[]), "
                "CAST(:segments AS text[]), CAST(:rated AS timestamptz[]), CAST(:months AS text[]), "
                "CAST(:used AS bigint[])) AS v(id, segments, rated_until, cap_month, cap_used) WHERE m.id = v.id")
SAVE = (update(_T).where(_T.c.id == bindparam("b_id"))
        .values(segments=bindparam("b_segments"), rated_until=bindparam("b_rated_until"),
                cap_month=bindparam("b_cap_month"), cap_used=bindparam("b_cap_used")))


@dataclass
class Pass:
    now: dt.datetime
    horizon: dt.datetime
    prices: dict[str, int]
    plans: dict[str, Plan]
    accounts: dict[str, Account]
    rows: list[dict[str, Any]] = field(default_factory=list)
    owed: dict[str, tuple[State, int, str]] = field(default_factory=dict)  # ledger key -> (meter, amount, month)
    refunded: dict[str, tuple[State, int, str]] = field(default_factory=dict)  # the same, of the refunds
    accrued: dict[str, int] = field(default_factory=dict)
    labels: dict[dt.datetime, tuple[str, str]] = field(default_factory=dict)  # slot -> (key suffix, month)

    def label(self, slot: dt.datetime) -> tuple[str, str]:
        found = self.labels.get(slot)
        if found is None:
            found = self.labels[slot] = (slot.strftime("%Y-%m-%d"), ledger.month_of(slot))
        return found


async def drain(platform: Platform) -> None:
    while await outbox.consume(platform, usage_events.CONSUMER, usage_events.handle) == outbox.BATCH:
        pass


def rate_of(meter: State, p: Pass, plan: Plan) -> int:
    """Micro-credits per hour while the resource runs (or exists)."""
    spec = meter.spec or {}
    kind = meter.resource_type
    if kind in HOURLY:
        return round(p.prices.get(f"{kind}.hour", 0) * float(spec.get("count", 1))
                     + p.prices.get(f"{kind}.core_hour", 0) * float(spec.get("cpus", 0))
                     + p.prices.get(f"{kind}.gb_ram_hour", 0) * int(spec.get("memory_mb", 0)) / 1024
                     + p.prices.get(f"{kind}.gib_month", 0) / MONTH_HOURS * float(spec.get("size_gb", 0)))
    if meter.resource_type in ("volume", "disk") and (plan.features or {}).get("volume_gib_month"):
        return round(p.prices.get("volume.gib_month", 0) * int(spec.get("size_gb", 0)) / MONTH_HOURS)
    return 0


def _segments(meter: State) -> list[rating.Segment]:
    runs: list[rating.Segment] = [(aware(dt.datetime.fromisoformat(s)), aware(dt.datetime.fromisoformat(e)))
                                  for s, e in meter.segments or []]
    if meter.running_since is not None:
        runs.append((aware(meter.running_since), None))
    return runs


def _describe(meter: State, hours: float) -> str:
    spec = meter.spec or {}
    if "cpus" in spec:
        return f"{meter.resource_type} {meter.name} ({float(spec['cpus']):g} vCPU, {spec['memory_mb']} MB): {hours:.4f} h"
    if meter.resource_type == "loadbalancer":
        return f"load balancer {meter.name}: {hours:.4f} h"
    return f"{meter.resource_type} {meter.name} ({spec.get('size_gb', 0)} GB): {hours:.4f} h"


def rate_meter(meter: State, p: Pass, cap_hours: float) -> None:
    account = p.accounts.get(meter.user_id)
    plan = p.plans.get(account.plan_id) if account is not None else None
    runs = _segments(meter)
    rate = rate_of(meter, p, plan) if plan is not None else 0
    if account is None or not runs or rate <= 0:
        if meter.segments:
            meter.segments = []  # nothing to charge for them (a user who subscribes later is billed from then)
        return
    begin = max(aware(meter.rated_until) or runs[0][0], aware(account.created_at))
    rated = None
    for slot in rating.slots(begin, p.horizon):
        start, end = max(slot, begin), slot + rating.SLOT
        seconds = rating.seconds_in(runs, start, end)
        rated = end
        if seconds <= 0:
            continue
        suffix, month = p.label(slot)
        if meter.cap_month != month:
            meter.cap_month, meter.cap_used = month, 0
        amount = min(rating.amount(rate, seconds), max(0, round(rate * cap_hours) - meter.cap_used))
        if amount <= 0:
            continue
        meter.cap_used += amount
        key = f"{meter.id}:{suffix}"
        p.owed[key] = (meter, amount, month)
        p.rows.append({"id": new_id(), "key": key, "user_id": meter.user_id, "kind": "charge", "wallet": "granted",
                       "amount": -amount, "month": month, "service": meter.service,
                       "resource_type": meter.resource_type, "resource_id": meter.resource_id,
                       "quantity": round(seconds / 3600, 6), "unit": "hour",
                       "description": _describe(meter, seconds / 3600), "period_start": slot, "period_end": end,
                       "created_at": p.now})  # a ledger.line, written out: 10,000s of them in a closing pass
    if rated is not None:
        meter.rated_until = rated
        meter.segments = [[s, e] for s, e in meter.segments or [] if aware(dt.datetime.fromisoformat(e)) > rated]
    since = max(aware(meter.rated_until) or begin, begin)
    if p.now > since:
        open_part = rating.amount(rate, rating.seconds_in(runs, since, p.now))
        p.accrued[meter.user_id] = p.accrued.get(meter.user_id, 0) + open_part


def refund_late(meter: State, runs: list[refunds.Late], p: Pass, lines: dict[str, Any]) -> None:
    """Refund the days charged as running after the ``runs`` ended (learnt late), then forget them."""
    account = p.accounts.get(meter.user_id)
    plan = p.plans.get(account.plan_id) if account is not None else None
    if account is not None and plan is not None:
        for row in refunds.refund(meter, runs, p, rate_of(meter, p, plan), aware(account.created_at), account.month,
                                  lines):
            p.rows.append(row)
            p.refunded[row["key"]] = (meter, row["amount"], ledger.month_of(row["period_start"]))
    until = aware(meter.rated_until)
    meter.segments = [[s, e] for s, e in meter.segments if until is None or aware(dt.datetime.fromisoformat(e)) >= until]


async def _storage(session: AsyncSession, p: Pass, account: Account, meters: dict[str, Meter]) -> None:
    """Object storage GiB-month: the bytes stored at the pass that closes an hour, charged for that
    hour (sampled once an hour; the account's ``storage:<user>`` meter remembers the last hour)."""
    from cumulo.services.quotas import service as quotas

    price = p.prices.get("storage.gib_month", 0)
    quota = quotas.registry().get("storage_bytes")
    slot = rating.floor_hour(p.horizon) - rating.HOUR
    if not price or quota is None or slot < rating.floor_hour(aware(account.created_at)):
        return
    meter_id = f"storage:{account.user_id}"
    state = meters.get(meter_id)
    if state is not None and state.rated_until is not None and aware(state.rated_until) > slot:
        return
    if state is None:
        state = Meter(id=meter_id, user_id=account.user_id, service="storage", resource_type="storage",
                      resource_id=account.user_id, name="object storage", spec={}, segments=[], cap_month="",
                      cap_used=0, gone=False, created_at=p.now)
        session.add(state)
    state.rated_until = slot + rating.HOUR
    stored = float(await quota.usage(session, account.user_id) or 0)
    amount = round(price * stored / GIB / MONTH_HOURS)
    if amount > 0:
        p.rows.append(ledger.line(f"{meter_id}:{slot.strftime('%Y-%m-%dT%H')}", account.user_id, "charge", -amount,
                                  ledger.month_of(slot), service="storage", resource_type="storage",
                                  resource_id=account.user_id, quantity=round(stored / GIB, 6), unit="GiB-hour",
                                  description=f"object storage: {stored / GIB:.3f} GiB for one hour",
                                  period_start=slot, period_end=slot + rating.HOUR, created_at=p.now))


async def _roll_over(session: AsyncSession, p: Pass, account: Account) -> list[str]:
    """Months that ended for this account: expire the unused granted credits, grant the new month's,
    issue the invoice. The months whose invoice was issued."""
    issued = []
    current = ledger.month_of(p.horizon)
    while account.month < current:
        old, new = account.month, ledger.next_month(account.month)
        totals = await ledger.month_totals(session, account.user_id, old)
        unused = totals["granted"] - totals["charged"]
        rows = []
        if unused > 0:
            rows.append(ledger.line(f"expiry:{account.user_id}:{old}", account.user_id, "expiry", -unused, old,
                                    description=f"unused monthly credits of {old} expired", created_at=p.now))
        plan = p.plans.get(account.plan_id)
        if plan is not None and plan.monthly_credits:
            rows.append(ledger.line(f"grant:{account.user_id}:{new}", account.user_id, "grant", plan.monthly_credits,
                                    new, description=f"{plan.name} plan: monthly credits for {new}",
                                    created_at=p.now))
        await ledger.post(session, rows)
        account.month = new
        if await invoices.issue(session, account, old, p.now):
            issued.append(old)
    return issued


async def _read(session: AsyncSession, set_based: bool) -> list[State]:
    """The meters rated here (with ``set_based``: all but the simply-running ones ``closing`` rates)."""
    query = select(*COLUMNS).where(Meter.resource_type.not_in(NOT_TIMED))
    if set_based:
        query = query.where(not_(and_(Meter.running_since.is_not(None), Meter.resource_type.in_(HOURLY),
                                      or_(Meter.segments.is_(None), cast(Meter.segments, Text) == "[]"))))
    specs: dict[str, dict[str, Any]] = {}
    return [State(mid, user, service, kind, rid, name,
                  specs[spec] if spec in specs else specs.setdefault(spec, json.loads(spec or "{}")),
                  running, [] if segments in (None, "[]") else json.loads(segments), rated, cap_month, cap_used, gone)
            for mid, user, service, kind, rid, name, spec, running, segments, rated, cap_month, cap_used, gone
            in (await session.execute(query)).all()]


async def _save(session: AsyncSession, changed: list[State], set_based: bool) -> None:
    if changed and set_based:
        await session.execute(_PG_SAVE, {"ids": [m.id for m in changed],
                                         "segments": [json.dumps(m.segments or []) for m in changed],
                                         "rated": [m.rated_until for m in changed],
                                         "months": [m.cap_month for m in changed],
                                         "used": [m.cap_used for m in changed]})
    elif changed:
        await session.execute(SAVE, [{"b_id": m.id, "b_segments": m.segments, "b_rated_until": m.rated_until,
                                      "b_cap_month": m.cap_month, "b_cap_used": m.cap_used} for m in changed])


async def run(platform: Platform) -> dict[str, int]:
    """One meter pass (safe to run any time, in any process, as often as wanted)."""
    await drain(platform)
    s = platform.settings
    now = utcnow()
    async with platform.db.session() as session:
        await locks.hold(session, "billing:meter")
        p = Pass(now=now, horizon=now - dt.timedelta(seconds=s.billing_settle_seconds),
                 prices=dict((await session.execute(select(Price.key, Price.amount))).all()),
                 plans={plan.id: plan for plan in (await session.scalars(select(Plan))).all()},
                 accounts={a.user_id: a for a in (await session.scalars(select(Account))).all()})
        if p.accounts:
            await declared.sync_states(session, now, p.horizon)
        set_based = platform.db.dialect == "postgresql"  # the simply-running meters in one statement
        meters = await _read(session, set_based) if p.accounts else []
        late = {m.id: (m, runs) for m in meters if (runs := refunds.late_runs(m))}
        lines = await refunds.charged(session, late) if late else {}
        changed = []
        for state in meters:
            before = state.snapshot()
            if state.id in late:
                refund_late(state, late[state.id][1], p, lines)
            rate_meter(state, p, s.billing_monthly_cap_hours)
            if state.snapshot() != before:
                changed.append(state)
        simple = closed = 0
        if set_based and p.accounts:
            closed, simple = await closing.close(session, p.prices, HOURLY, p.horizon, now,
                                                 s.billing_monthly_cap_hours)
            for user_id, amount in (await closing.pending(session, p.prices, HOURLY, now)).items():
                p.accrued[user_id] = p.accrued.get(user_id, 0) + amount
        if p.accounts:
            await declared.consume(session, p)
        written = await ledger.post(session, p.rows)
        for key, (state, amount, month) in p.owed.items():
            if key not in written and month == state.cap_month:  # posted before (a replay): not counted twice
                state.cap_used -= amount
        for key, (state, amount, month) in p.refunded.items():
            if key in written and month == state.cap_month:  # the month's charges less what was given back
                state.cap_used = max(0, state.cap_used - amount)
        await _save(session, changed, set_based)
        whole = simple < closing.BATCH  # every closed day rated: a month may end (its invoice is final)
        for account in p.accounts.values():
            if whole:
                await _roll_over(session, p, account)
            accrued = p.accrued.get(account.user_id, 0)
            if account.accrued != accrued:
                account.accrued = accrued
            account.accrued_at = now
        # a deleted resource whose every run is charged is forgotten
        done = [m.id for m in meters if m.gone and m.running_since is None and not m.segments]
        if done:
            await session.execute(delete(Meter).where(Meter.id.in_(done)))
        actions = await alerts.evaluate(session, platform, p.accounts, p.plans, now)
        await session.commit()
    await alerts.act(platform, actions)
    return {"meters": len(meters) + simple, "charges": len(written) + closed, "accounts": len(p.accounts)}


async def storage_pass(platform: Platform) -> int:
    """Sample every billed account's object storage for the last closed hour (its own loop: one
    measure per account and hour, apart from the resource meter); the lines posted."""
    now = utcnow()
    async with platform.db.session() as session:
        await locks.hold(session, "billing:storage")
        p = Pass(now=now, horizon=now - dt.timedelta(seconds=platform.settings.billing_settle_seconds),
                 prices=dict((await session.execute(select(Price.key, Price.amount))).all()),
                 plans={}, accounts={a.user_id: a for a in (await session.scalars(select(Account))).all()})
        meters = {m.id: m for m in (await session.scalars(select(Meter).where(Meter.resource_type == "storage"))).all()}
        with session.no_autoflush:
            for account in p.accounts.values():
                await _storage(session, p, account, meters)
        written = await ledger.post(session, p.rows)
        await session.commit()
    return len(written)

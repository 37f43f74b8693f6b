"""Billing use cases: plans and prices, the subscription, balance, ledger, credits and vouchers,
usage reports, and ``admit`` (called by create paths: refuses launches at zero balance)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets as pysecrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, iso, utcnow
from cumulo.core.errors import Conflict, CumuloError, Forbidden, InvalidInput, NotFound, not_found
from cumulo.core.principal import Principal
from cumulo.db import locks
from cumulo.platform import Platform
from cumulo.services.billing import ledger
from cumulo.services.billing.models import Account, Entry, Meter, Plan, Price, Voucher
from cumulo.services.events import service as events


class InsufficientCredits(CumuloError):
    code, status, default_message = "INSUFFICIENT_CREDITS", 402, "Your credit balance is used up"


# --- plans and prices ---------------------------------------------------------------------------

async def plans(session: AsyncSession) -> list[Plan]:
    return list((await session.scalars(select(Plan).order_by(Plan.position, Plan.id))).all())


async def plan(session: AsyncSession, plan_id: str) -> Plan:
    found = await session.get(Plan, plan_id)
    if found is None:
        raise not_found("plan", plan_id)
    return found


def plan_out(p: Plan) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "price": p.price, "monthly_credits": ledger.credits(p.monthly_credits),
            "overage": p.overage, "limits": p.limits or {}, "features": p.features or {}}


async def prices(session: AsyncSession) -> list[Price]:
    return list((await session.scalars(select(Price).order_by(Price.key))).all())


def price_out(p: Price) -> dict[str, Any]:
    return {"key": p.key, "amount": ledger.credits(p.amount), "unit": p.unit, "description": p.description}


def _check_limits(limits: dict[str, float]) -> None:
    from cumulo.services.quotas import service as quotas

    unknown = sorted(set(limits) - set(quotas.registry()))
    if unknown:
        raise InvalidInput(f"limits: unknown quota kinds {', '.join(unknown)} (see GET /quotas)")
    negative = sorted(kind for kind, value in limits.items() if not 0 <= value < 1e18)
    if negative:
        raise InvalidInput(f"limits: {', '.join(negative)} must be 0 or more")


async def edit_plan(session: AsyncSession, admin: Principal, plan_id: str, changes: dict[str, Any]) -> Plan:
    p = await session.get(Plan, plan_id)
    if p is None:
        p = Plan(id=plan_id, name=changes.get("name") or plan_id, price=0.0, monthly_credits=0, overage=False,
                 limits={}, features={}, position=100)
        session.add(p)
    if "limits" in changes:
        _check_limits(changes["limits"])
    for name in ("name", "price", "overage", "limits", "features"):
        if changes.get(name) is not None:
            setattr(p, name, changes[name])
    if changes.get("monthly_credits") is not None:
        p.monthly_credits = ledger.micro(changes["monthly_credits"])
    events.record(session, user_id=None, actor_id=admin.user_id, action="billing.plan_edited", resource_type="plan",
                  resource_id=plan_id, **{k: v for k, v in changes.items() if v is not None})
    await session.commit()
    return p


async def edit_price(session: AsyncSession, admin: Principal, key: str, amount: float) -> Price:
    p = await session.get(Price, key)
    if p is None:
        raise not_found("price", key)
    p.amount = ledger.micro(amount)
    events.record(session, user_id=None, actor_id=admin.user_id, action="billing.price_edited",
                  resource_type="price", resource_id=key, amount=amount)
    await session.commit()
    return p


# --- the subscription ---------------------------------------------------------------------------

async def account(session: AsyncSession, platform: Platform, user_id: str, *, create: bool = True) -> Account | None:
    """The user's account; a user who never subscribed is on ``CUMULO_BILLING_DEFAULT_PLAN`` (made
    on first need), or has none (not billed)."""
    found = await session.get(Account, user_id)
    default = platform.settings.billing_default_plan
    if found is not None or not default or not create:
        return found
    return await _open(session, user_id, await plan(session, default))


async def _open(session: AsyncSession, user_id: str, p: Plan) -> Account:
    now = utcnow()
    month = ledger.month_of(now)
    acct = Account(user_id=user_id, plan_id=p.id, month=month, accrued=0, created_at=now, updated_at=now)
    session.add(acct)
    await session.flush()
    await _grant_month(session, acct, p, month)
    return acct


async def _grant_month(session: AsyncSession, acct: Account, p: Plan, month: str) -> None:
    """The plan's monthly credits for ``month``; after an upgrade, the difference to what the month
    has granted so far (a downgrade takes nothing back)."""
    granted = int(await session.scalar(select(func.coalesce(func.sum(Entry.amount), 0)).where(
        Entry.user_id == acct.user_id, Entry.month == month, Entry.kind == "grant")) or 0)
    if p.monthly_credits > granted:
        await ledger.post(session, [ledger.line(f"grant:{acct.user_id}:{month}:{p.id}", acct.user_id, "grant",
                                                p.monthly_credits - granted, month,
                                                description=f"{p.name} plan: monthly credits for {month}")])


async def usage_over(session: AsyncSession, platform: Platform, user_id: str, limits: dict[str, float]) -> list[dict[str, Any]]:
    from cumulo.services.quotas import service as quotas

    over = []
    for kind, limit in sorted(limits.items()):
        q = quotas.registry().get(kind)
        if q is None:
            continue
        used = float(await q.usage(session, user_id) or 0)
        if used > float(limit) + 1e-9:
            over.append({"kind": kind, "used": used, "limit": limit, "unit": q.unit})
    return over


async def subscribe(session: AsyncSession, platform: Platform, user: Principal, plan_id: str | None,
                    budget: float | None, budget_set: bool) -> Account:
    await locks.hold(session, f"quota:{user.user_id}")  # no create slips in between the check and the switch
    acct = await account(session, platform, user.user_id)
    if plan_id is not None:
        new = await plan(session, plan_id)
        over = await usage_over(session, platform, user.user_id, new.limits or {})
        if over:
            raise Conflict(f"cannot switch to the {new.name} plan: you use more than it allows ("
                           + "; ".join(f"{o['kind']} {o['used']:g} > {float(o['limit']):g}" for o in over)
                           + "); delete some resources first", details={"exceeded": over})
        if acct is None:
            acct = await _open(session, user.user_id, new)
        elif acct.plan_id != new.id:
            old = acct.plan_id
            acct.plan_id = new.id
            await _grant_month(session, acct, new, ledger.month_of(utcnow()))
            events.record(session, user_id=user.user_id, action="billing.plan_changed", resource_type="billing",
                          resource_id=user.user_id, old_plan=old, plan=new.id)
    if acct is None:
        raise InvalidInput("plan: choose a plan first (GET /billing/plans)")
    if budget_set:
        acct.budget = ledger.micro(budget) if budget else None
    acct.updated_at = utcnow()
    await session.commit()
    return acct


async def balance(session: AsyncSession, acct: Account) -> dict[str, Any]:
    posted = await ledger.balance(session, acct.user_id)
    totals = await ledger.month_totals(session, acct.user_id, acct.month)
    ongoing = posted - acct.accrued
    granted_left = max(0, min(ongoing, totals["granted"] - totals["charged"] - acct.accrued))
    return {"balance": ledger.credits(ongoing), "posted": ledger.credits(posted), "pending": ledger.credits(acct.accrued),
            "granted": ledger.credits(granted_left), "paid": ledger.credits(ongoing - granted_left),
            "month": acct.month, "used_this_month": ledger.credits(totals["charged"] + acct.accrued),
            "updated_at": iso(aware(acct.accrued_at)), "exhausted": acct.exhausted_at is not None,
            "suspended": acct.suspended_at is not None}


async def subscription_out(session: AsyncSession, acct: Account | None) -> dict[str, Any]:
    if acct is None:
        return {"plan": None, "billed": False}
    p = await session.get(Plan, acct.plan_id)
    return {"plan": acct.plan_id, "plan_name": p.name if p else acct.plan_id, "billed": True,
            "monthly_credits": ledger.credits(p.monthly_credits if p else 0), "overage": bool(p and p.overage),
            "limits": (p.limits if p else {}) or {}, "budget": ledger.credits(acct.budget) if acct.budget else None,
            "since": iso(aware(acct.created_at)), **await balance(session, acct)}


# --- the ledger ---------------------------------------------------------------------------------

def entry_out(e: Entry) -> dict[str, Any]:
    return {"id": e.id, "key": e.key, "kind": e.kind, "wallet": e.wallet, "amount": ledger.credits(e.amount),
            "month": e.month, "service": e.service, "resource_type": e.resource_type, "resource_id": e.resource_id,
            "quantity": e.quantity, "unit": e.unit, "description": e.description,
            "period_start": iso(aware(e.period_start)), "period_end": iso(aware(e.period_end)),
            "created_at": iso(aware(e.created_at))}


async def transactions(session: AsyncSession, user_id: str, *, limit: int, month: str | None,
                       kind: str | None) -> list[Entry]:
    query = select(Entry).where(Entry.user_id == user_id)
    if month:
        query = query.where(Entry.month == month)
    if kind:
        query = query.where(Entry.kind == kind)
    return list((await session.scalars(query.order_by(Entry.created_at.desc(), Entry.key).limit(limit))).all())


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def grant(session: AsyncSession, platform: Platform, admin: Principal, user_id: str, amount: float,
                reason: str, wallet: str) -> Entry:
    """An administrator's credit (positive) or adjustment (negative) to a user's account."""
    from cumulo.services.identity import service as identity

    try:
        await identity.get_user(session, user_id)
    except NotFound:
        raise not_found("user", user_id) from None
    acct = await account(session, platform, user_id)
    if acct is None:
        raise Conflict("this user has no plan: subscribe them first (or set CUMULO_BILLING_DEFAULT_PLAN)")
    month = ledger.month_of(utcnow())
    key = f"credit:{user_id}:{utcnow().isoformat()}:{pysecrets.token_hex(4)}"
    row = ledger.line(key, user_id, "grant" if amount > 0 else "adjustment", ledger.micro(amount), month,
                      wallet=wallet, description=reason or "credited by an administrator")
    await ledger.post(session, [row])
    events.record(session, user_id=user_id, actor_id=admin.user_id, action="billing.credited",
                  resource_type="billing", resource_id=user_id, amount=amount, wallet=wallet)
    await session.commit()
    platform.runner.wake("billing.meter")  # lifts an exhausted account at once
    return await session.scalar(select(Entry).where(Entry.key == key))  # type: ignore[return-value]


async def create_voucher(session: AsyncSession, admin: Principal, credits: float, code: str | None,
                         max_redemptions: int, expires_at: dt.datetime | None) -> tuple[Voucher, str]:
    code = code or "CV-" + pysecrets.token_urlsafe(12)
    if await session.scalar(select(Voucher.id).where(Voucher.code_hash == _hash(code))):
        raise Conflict("a voucher with this code exists")
    v = Voucher(code_hash=_hash(code), credits=ledger.micro(credits), max_redemptions=max_redemptions,
                redemptions=0, expires_at=expires_at)
    session.add(v)
    await session.flush()
    events.record(session, user_id=None, actor_id=admin.user_id, action="billing.voucher_created",
                  resource_type="voucher", resource_id=v.id, credits=credits, max_redemptions=max_redemptions)
    await session.commit()
    return v, code


async def redeem(session: AsyncSession, platform: Platform, user: Principal, code: str) -> Entry:
    acct = await account(session, platform, user.user_id)
    if acct is None:
        raise Conflict("choose a plan first (PUT /billing/subscription)")
    await locks.hold(session, "billing:vouchers")
    v = await session.scalar(select(Voucher).where(Voucher.code_hash == _hash(code)))
    if v is None or (v.expires_at is not None and aware(v.expires_at) <= utcnow()):
        raise InvalidInput("voucher: unknown or expired code")
    key = f"voucher:{v.id}:{user.user_id}"
    if await session.scalar(select(Entry.id).where(Entry.key == key)):
        raise Conflict("you have already redeemed this voucher")
    if v.redemptions >= v.max_redemptions:
        raise Conflict("this voucher has been used up")
    v.redemptions += 1
    await ledger.post(session, [ledger.line(key, user.user_id, "voucher", v.credits, ledger.month_of(utcnow()),
                                            wallet="paid", description="voucher redeemed")])
    events.record(session, user_id=user.user_id, action="billing.voucher_redeemed", resource_type="billing",
                  resource_id=user.user_id, voucher_id=v.id, credits=ledger.credits(v.credits))
    await session.commit()
    platform.runner.wake("billing.meter")
    return await session.scalar(select(Entry).where(Entry.key == key))  # type: ignore[return-value]


# --- usage --------------------------------------------------------------------------------------

async def usage(session: AsyncSession, user_id: str, start: dt.datetime, end: dt.datetime,
                group_by: str) -> dict[str, Any]:
    """The charges whose hour (or moment) falls in [start, end), less the refunds of their days (a run
    whose end was learnt after its day was charged: ``refunds``), grouped; they add up to the ledger."""
    rows = (await session.scalars(select(Entry).where(Entry.user_id == user_id, Entry.kind.in_(ledger.SPENT),
                                                      Entry.period_start >= start, Entry.period_start < end)
                                  .order_by(Entry.period_start, Entry.kind))).all()
    groups: dict[str, dict[str, Any]] = {}
    total = 0
    for e in rows:
        if group_by == "service":  # a quantity adds up only in one unit (a function's invocations, GB-seconds)
            key, extra = f"{e.service}:{e.unit}", {"service": e.service}
        elif group_by == "day":
            day = aware(e.period_start).date().isoformat()  # type: ignore[union-attr]
            key, extra = day, {"day": day}
        else:
            key = f"{e.resource_type}:{e.resource_id}:{e.unit}"
            extra = {"service": e.service, "resource_type": e.resource_type, "resource_id": e.resource_id,
                     "description": e.description.split(":")[0]}
        g = groups.setdefault(key, {**extra, "quantity": 0.0, "unit": e.unit, "amount_micro": 0})
        g["quantity"] = round(g["quantity"] + e.quantity, 6)
        g["amount_micro"] += -e.amount
        total += -e.amount
    items = [{k: v for k, v in g.items() if k != "amount_micro"} | {"amount": ledger.credits(g["amount_micro"])}
             for g in groups.values()]
    return {"from": iso(start), "to": iso(end), "group_by": group_by, "items": items, "total": ledger.credits(total)}


async def resource_runtime(session: AsyncSession, user_id: str, resource_type: str, start: dt.datetime,
                           end: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per resource of ``resource_type`` (e.g. ``instance``: VirtCloud's ``/vm/stats/runtime`` asks it):
    the running hours and credits charged in [start, end), exactly the ``group_by=resource`` items of
    ``usage``; the open day's part not posted yet (``pending``) and the hourly rate from the price table."""
    from cumulo.services.billing import meter, rating

    out: dict[str, dict[str, Any]] = {}
    for item in (await usage(session, user_id, start, end, "resource"))["items"]:
        if item["resource_type"] == resource_type:
            found = out.setdefault(item["resource_id"], {"hours": 0.0, "cost": 0.0, "pending": 0.0, "hourly_rate": 0.0})
            found["cost"] = round(found["cost"] + item["amount"], 6)
            if item["unit"] == "hour":
                found["hours"] = round(found["hours"] + item["quantity"], 6)
    acct = await session.get(Account, user_id)
    p = await session.get(Plan, acct.plan_id) if acct is not None else None
    if acct is None or p is None:
        return out
    prices = meter.Pass(now=end, horizon=end, prices=dict((await session.execute(select(Price.key, Price.amount))).all()),
                        plans={}, accounts={})
    for m in (await session.scalars(select(Meter).where(Meter.user_id == user_id,
                                                        Meter.resource_type == resource_type))).all():
        rate = meter.rate_of(m, prices, p)  # type: ignore[arg-type]
        since = max(aware(m.rated_until) or aware(m.created_at), aware(acct.created_at))
        found = out.setdefault(m.resource_id, {"hours": 0.0, "cost": 0.0, "pending": 0.0, "hourly_rate": 0.0})
        if not m.gone:
            found["hourly_rate"] = ledger.credits(rate)  # while it runs (a resized resource: its new size)
        if end > since:
            seconds = rating.seconds_in(meter._segments(m), since, end)  # type: ignore[arg-type]
            found["pending"] = round(found["pending"] + ledger.credits(rating.amount(rate, seconds)), 6)
    return out


# --- admission ----------------------------------------------------------------------------------

async def admission(session: AsyncSession, platform: Any, user_id: str) -> None:
    """Before a create (``quotas.admit``): 402 ``INSUFFICIENT_CREDITS`` when the balance is used up
    on a plan without overage."""
    acct = await account(session, platform, user_id)
    if acct is None:
        return
    p = await session.get(Plan, acct.plan_id)
    if p is not None and not p.overage and await ledger.balance(session, user_id) - acct.accrued <= 0:
        raise InsufficientCredits("your credit balance is used up: add credits (POST /billing/credits) or choose "
                                  "a plan with overage before launching", details={"plan": acct.plan_id})


async def plan_limits(session: AsyncSession, platform: Any, user_id: str) -> dict[str, float]:
    """The user's plan's limits (override the ``CUMULO_QUOTA_*`` settings); none without a plan."""
    found = await session.get(Account, user_id)
    plan_id = found.plan_id if found is not None else platform.settings.billing_default_plan
    if not plan_id:
        return {}
    p = await session.get(Plan, plan_id)
    return dict(p.limits or {}) if p is not None else {}


def forbid_unless_admin(user: Principal) -> None:
    if not user.is_admin:
        raise Forbidden("only an administrator may grant credits; redeem a voucher with {\"voucher\": CODE}")

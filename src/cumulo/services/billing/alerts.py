"""Thresholds, budgets and the zero balance, checked by every meter pass.

- 50, 80 and 100 % of the month's granted credits, and of the user's budget (actual), plus the
  budget's forecast (this month's use extrapolated to the month's end): each mails the user and
  records a ``billing.threshold`` event ONCE (a ``Notice`` row with a unique key).
- On a plan without overage, an ongoing balance at or below zero records ``billing.exhausted``
  (new launches answer 402 ``INSUFFICIENT_CREDITS``); after ``CUMULO_BILLING_GRACE_SECONDS`` the
  user's running instances (and what the services declare through ``cumulo.ports.usage``:
  databases) are stopped, never deleted (``billing.suspended``). Credits added
  afterwards lift it; the instances stay stopped until their owner starts them."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo import ports
from cumulo.core.clock import aware
from cumulo.core.errors import CumuloError
from cumulo.core.principal import Principal
from cumulo.drivers.mail.base import Mail
from cumulo.platform import Platform
from cumulo.services.billing import ledger
from cumulo.services.billing.models import Account, Entry, Notice, Plan
from cumulo.services.events import service as events

log = logging.getLogger("cumulo.billing")
PERCENTS = (50, 80, 100)


@dataclass
class Actions:
    mails: list[Mail] = field(default_factory=list)
    suspend: list[Principal] = field(default_factory=list)


async def _notice(session: AsyncSession, key: str, user_id: str, kind: str, now: dt.datetime) -> bool:
    """True the first time ``key`` is noted."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(Notice).values(key=key, user_id=user_id, kind=kind, created_at=now)
            .on_conflict_do_nothing(index_elements=["key"]).returning(Notice.key))
    return (await session.execute(stmt)).scalar() is not None


def _month_fraction(now: dt.datetime) -> float:
    start = ledger.month_start(ledger.month_of(now))
    end = ledger.month_start(ledger.next_month(ledger.month_of(now)))
    return max((now - start) / (end - start), 1e-6)


async def evaluate(session: AsyncSession, platform: Platform, accounts: dict[str, Account], plans: dict[str, Plan],
                   now: dt.datetime) -> Actions:
    from cumulo.services.identity import service as identity

    actions = Actions()
    if not accounts:
        return actions
    month = ledger.month_of(now)
    posted = dict((await session.execute(select(Account.user_id, Account.posted))).all())  # fresh, not the ORM's
    granted, _paid, charged = ledger.totals()
    totals = {u: (int(g or 0), int(c or 0)) for u, g, c in (await session.execute(
        select(Entry.user_id, granted, charged).where(Entry.month == month).group_by(Entry.user_id))).all()}
    for user_id, account in accounts.items():
        plan = plans.get(account.plan_id)
        grant, spent = totals.get(user_id, (0, 0))
        used = spent + account.accrued
        found: list[tuple[str, str, str]] = []  # (key, kind, sentence)
        for pct in PERCENTS:
            if grant > 0 and used * 100 >= grant * pct:
                found.append((f"{user_id}:{month}:credits:{pct}", f"credits_{pct}",
                              f"you have used {pct}% of this month's {ledger.credits(grant):g} credits"))
            if account.budget and used * 100 >= account.budget * pct:
                found.append((f"{user_id}:{month}:budget:{pct}", f"budget_{pct}",
                              (f"you have used {pct}% of your monthly budget of {ledger.credits(account.budget):g} "
                              "credits")))
        if account.budget and used / _month_fraction(now) > account.budget:
            found.append((f"{user_id}:{month}:budget:forecast", "budget_forecast",
                          (f"at this rate you will spend {ledger.credits(used / _month_fraction(now)):.2f} credits "
                          f"this month, over your budget of {ledger.credits(account.budget):g}")))
        ongoing = int(posted.get(user_id) or 0) - account.accrued
        if plan is not None and not plan.overage and ongoing <= 0:
            if account.exhausted_at is None:
                account.exhausted_at = now
                found.append((f"{user_id}:exhausted:{now.isoformat()}", "exhausted",
                              ("your credit balance is used up: new launches are refused, and your running "
                              f"instances will be stopped (not deleted) in "
                              f"{platform.settings.billing_grace_seconds / 60:g} minutes unless credits are added")))
            elif account.suspended_at is None and (now - aware(account.exhausted_at)).total_seconds() >= \
                    platform.settings.billing_grace_seconds:
                account.suspended_at = now
                found.append((f"{user_id}:suspended:{now.isoformat()}", "suspended",
                              ("your running instances were stopped (their data is kept): add credits, then start "
                              "them again")))
        elif account.exhausted_at is not None and ongoing > 0:
            account.exhausted_at = account.suspended_at = None
        new = [(key, kind, text) for key, kind, text in found if await _notice(session, key, user_id, kind, now)]
        if not new and account.suspended_at is None:
            continue
        user = await identity.get_user(session, user_id)
        if account.suspended_at is not None:  # every pass: an instance started meanwhile is stopped again
            actions.suspend.append(Principal(user_id=user.id, email=user.email, name=user.name, role=user.role,
                                             key_id="billing"))
        for _key, kind, text in new:
            events.record(session, user_id=user_id, action=f"billing.{kind if kind in ('exhausted', 'suspended') else 'threshold'}",
                          resource_type="billing", resource_id=user_id, what=kind, balance=ledger.credits(ongoing),
                          used=ledger.credits(used))
            actions.mails.append(Mail(to=user.email, subject=f"Cumulo billing: {text.split(':')[0]}",
                                      body=f"Hello {user.name},\n\n{text.capitalize()}.\n\nBalance: "
                                           f"{ledger.credits(ongoing):.2f} credits.\n"))
    return actions


async def act(platform: Platform, actions: Actions) -> None:
    """After the commit (at most once): send the mails, stop the suspended users' instances."""
    for mail in actions.mails:
        try:
            await platform.mailer.send(mail)
        except CumuloError as exc:
            log.warning("billing mail '%s' to %s not sent: %s", mail.subject, mail.to, exc.message)
    for user in actions.suspend:
        await suspend(platform, user)
        for _kind, source in ports.usage:  # the other services' running resources (databases, caches)
            if source.suspend is not None:
                await source.suspend(platform, user)


async def suspend(platform: Platform, user: Principal) -> int:
    """Stop (never delete) every running instance of the user; how many."""
    from cumulo.services.compute import service as compute

    stopped = 0
    async with platform.db.session() as session:
        for inst in await compute.list_instances(session, user):
            if inst.desired == "running":
                try:
                    await compute.stop(platform, session, user, inst.id)
                    stopped += 1
                except CumuloError as exc:
                    log.warning("instance %s of %s not stopped: %s", inst.id, user.user_id, exc.message)
    return stopped

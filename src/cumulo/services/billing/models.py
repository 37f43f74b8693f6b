"""Billing tables. Amounts are integer micro-credits (1 credit = 1,000,000), signed in the ledger:
grants and refunds positive, charges and expiries negative."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin

MICRO = 1_000_000


class Plan(TimestampMixin, Base):
    __tablename__ = "billing_plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # free, pro, unlimited, payg
    name: Mapped[str] = mapped_column(String(64))
    price: Mapped[float] = mapped_column(Float, default=0.0)  # what the operator asks per month, for display
    monthly_credits: Mapped[int] = mapped_column(BigInteger)  # micro-credits granted each month
    overage: Mapped[bool] = mapped_column(Boolean, default=False)  # the balance may go below zero
    limits: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # quota kind -> limit
    features: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # volume_gib_month: bool
    position: Mapped[int] = mapped_column(Integer, default=0)


class Price(Base):
    __tablename__ = "billing_prices"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. instance.core_hour
    amount: Mapped[int] = mapped_column(BigInteger)  # micro-credits per unit
    unit: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Account(TimestampMixin, Base):
    """A subscribed user: plan, budget, the month whose credits were granted, the ongoing usage."""

    __tablename__ = "billing_accounts"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(32))
    budget: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # micro-credits per month
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM of the last monthly grant
    posted: Mapped[int] = mapped_column(BigInteger, default=0)  # the sum of the account's ledger lines
    accrued: Mapped[int] = mapped_column(BigInteger, default=0)  # rated but not yet posted (the open day)
    accrued_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    exhausted_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # balance reached zero
    suspended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # instances stopped for it


class Entry(IdMixin, Base):
    """One ledger line. ``key`` is unique: posting the same charge again (a second meter, a rerun
    after a crash) inserts nothing."""

    __tablename__ = "billing_ledger"
    __table_args__ = (Index("ix_billing_ledger_user_month", "user_id", "month"),
                      Index("ix_billing_ledger_month_user", "month", "user_id"))

    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # grant | charge | refund | adjustment | expiry | voucher
    wallet: Mapped[str] = mapped_column(String(8), default="granted")  # granted | paid
    amount: Mapped[int] = mapped_column(BigInteger)
    month: Mapped[str] = mapped_column(String(7))  # the period it belongs to (YYYY-MM)
    service: Mapped[str] = mapped_column(String(32), default="")
    resource_type: Mapped[str] = mapped_column(String(32), default="")
    resource_id: Mapped[str] = mapped_column(String(64), default="")
    quantity: Mapped[float] = mapped_column(Float, default=0.0)
    unit: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(String(300), default="")
    period_start: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    period_end: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Meter(Base):
    """What the meter knows of one billable resource, from its recorded state changes."""

    __tablename__ = "billing_meters"
    __table_args__ = (Index("ix_billing_meters_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # "<resource_type>:<resource_id>"
    user_id: Mapped[str] = mapped_column(String(36))
    service: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100), default="")
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # cpus, memory_mb, size_gb
    running_since: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    segments: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # closed, not yet fully rated
    rated_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    cap_month: Mapped[str] = mapped_column(String(7), default="")
    cap_used: Mapped[int] = mapped_column(BigInteger, default=0)  # charged in cap_month
    gone: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Voucher(IdMixin, Base):
    __tablename__ = "billing_vouchers"

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    credits: Mapped[int] = mapped_column(BigInteger)
    max_redemptions: Mapped[int] = mapped_column(Integer, default=1)
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Notice(Base):
    """A threshold crossed (mailed once): key ``<user>:<month>:<what>``."""

    __tablename__ = "billing_notices"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Invoice(IdMixin, Base):
    """A month's statement, written once from the ledger and never changed."""

    __tablename__ = "billing_invoices"
    __table_args__ = (UniqueConstraint("user_id", "month", name="uq_billing_invoices_user_month"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    month: Mapped[str] = mapped_column(String(7))
    plan_id: Mapped[str] = mapped_column(String(32))
    charges: Mapped[int] = mapped_column(BigInteger)  # sum of the month's charges (positive)
    credits: Mapped[int] = mapped_column(BigInteger)  # grants, vouchers, refunds of the month
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

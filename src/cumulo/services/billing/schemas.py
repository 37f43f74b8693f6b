"""Billing request bodies (answers are plain JSON documents built in ``service.py``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

MAX_CREDITS = 1_000_000_000


class SubscriptionIn(BaseModel):
    plan: str | None = Field(None, min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
    budget: float | None = Field(None, ge=0, le=MAX_CREDITS, description="monthly budget in credits; 0 or null: none")


class CreditsIn(BaseModel):
    voucher: str | None = Field(None, min_length=4, max_length=100)
    user_id: str | None = Field(None, min_length=1, max_length=36, description="admin: the user to credit")
    amount: float | None = Field(None, ge=-MAX_CREDITS, le=MAX_CREDITS, description="admin: credits (negative: "
                                 "an adjustment)")
    wallet: str = Field("paid", pattern=r"^(granted|paid)$")
    reason: str = Field("", max_length=200)


class PlanIn(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=64)
    price: float | None = Field(None, ge=0, le=1_000_000)
    monthly_credits: float | None = Field(None, ge=0, le=MAX_CREDITS)
    overage: bool | None = None
    limits: dict[str, float] | None = Field(None, max_length=50)
    features: dict[str, bool] | None = Field(None, max_length=20)


class PriceIn(BaseModel):
    amount: float = Field(ge=0, le=1_000_000, description="credits per unit")


class VoucherIn(BaseModel):
    credits: float = Field(gt=0, le=MAX_CREDITS)
    code: str | None = Field(None, min_length=6, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    max_redemptions: int = Field(1, ge=1, le=1_000_000)
    expires_at: dt.datetime | None = None

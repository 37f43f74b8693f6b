"""Billing HTTP routes: /billing/* for the caller, /admin/billing/* for administrators."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from cumulo.api.deps import AdminDep, PlatformDep, SessionDep, UserDep
from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput
from cumulo.services.billing import invoices, service
from cumulo.services.billing.schemas import CreditsIn, PlanIn, PriceIn, SubscriptionIn, VoucherIn

router = APIRouter(tags=["billing"])
MAX_RANGE = dt.timedelta(days=400)
PLAN_ID = re.compile(r"[a-z0-9_-]{1,32}")


@router.get("/billing/plans")
async def list_plans(session: SessionDep) -> list[dict[str, Any]]:
    return [service.plan_out(p) for p in await service.plans(session)]


@router.get("/billing/prices")
async def list_prices(session: SessionDep) -> list[dict[str, Any]]:
    return [service.price_out(p) for p in await service.prices(session)]


@router.get("/billing/subscription")
async def get_subscription(user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    acct = await service.account(session, platform, user.user_id)
    out = await service.subscription_out(session, acct)
    await session.commit()  # an account opened on the default plan
    return out


@router.put("/billing/subscription")
async def put_subscription(body: SubscriptionIn, user: UserDep, platform: PlatformDep,
                           session: SessionDep) -> dict[str, Any]:
    if body.plan is None and "budget" not in body.model_fields_set:
        raise InvalidInput("give a plan and/or a budget")
    acct = await service.subscribe(session, platform, user, body.plan, body.budget, "budget" in body.model_fields_set)
    return await service.subscription_out(session, acct)


async def _account(platform: Any, session: Any, user_id: str) -> Any:
    acct = await service.account(session, platform, user_id)
    if acct is None:
        raise Conflict("you have no plan: choose one with PUT /billing/subscription")
    return acct


@router.get("/billing/balance")
async def get_balance(user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    acct = await _account(platform, session, user.user_id)
    out = await service.balance(session, acct)
    await session.commit()
    return out


@router.get("/billing/transactions")
async def list_transactions(user: UserDep, session: SessionDep,
                            limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                            month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
                            kind: Annotated[Literal["grant", "charge", "refund", "adjustment", "expiry", "voucher"] | None,
                                            Query()] = None) -> list[dict[str, Any]]:
    return [service.entry_out(e) for e in await service.transactions(session, user.user_id, limit=limit,
                                                                     month=month, kind=kind)]


@router.post("/billing/credits", status_code=201)
async def add_credits(body: CreditsIn, user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    if body.voucher:
        return service.entry_out(await service.redeem(session, platform, user, body.voucher))
    service.forbid_unless_admin(user)
    if not body.user_id or not body.amount:
        raise InvalidInput("give a voucher, or (administrators) a user_id and a non-zero amount")
    return service.entry_out(await service.grant(session, platform, user, body.user_id, body.amount, body.reason,
                                                 body.wallet))


@router.get("/billing/usage")
async def get_usage(user: UserDep, session: SessionDep, start: Annotated[dt.datetime | None, Query(alias="from")] = None,
                    end: Annotated[dt.datetime | None, Query(alias="to")] = None,
                    group_by: Literal["resource", "service", "day"] = "resource") -> dict[str, Any]:
    end = aware(end) or utcnow()
    start = aware(start) or end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start >= end:
        raise InvalidInput("from must be before to")
    if end - start > MAX_RANGE:
        raise InvalidInput("at most 400 days at once")
    return await service.usage(session, user.user_id, start, end, group_by)


@router.get("/billing/invoices")
async def list_invoices(user: UserDep, session: SessionDep) -> list[dict[str, Any]]:
    return [invoices.invoice_out(i) for i in await invoices.list_invoices(session, user.user_id)]


@router.get("/billing/invoices/{ref}", response_model=None)
async def get_invoice(ref: str, user: UserDep, session: SessionDep,
                      format: Literal["json", "pdf"] = "json") -> dict[str, Any] | Response:
    inv = await invoices.get_invoice(session, user.user_id, ref[:40])
    if format == "pdf":
        return Response(invoices.render_pdf(inv, user.email), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="invoice-{inv.month}.pdf"'})
    return invoices.invoice_out(inv)


@router.get("/billing/invoices/{ref}/pdf", response_model=None)
async def get_invoice_pdf(ref: str, user: UserDep, session: SessionDep) -> Response:
    return await get_invoice(ref, user, session, "pdf")  # type: ignore[return-value]


# --- administrators -----------------------------------------------------------------------------

@router.put("/admin/billing/plans/{plan_id}")
async def edit_plan(plan_id: str, body: PlanIn, admin: AdminDep, session: SessionDep) -> dict[str, Any]:
    if not PLAN_ID.fullmatch(plan_id):
        raise InvalidInput("plan id: lower-case letters, digits, - and _, at most 32")
    return service.plan_out(await service.edit_plan(session, admin, plan_id, body.model_dump()))


@router.put("/admin/billing/prices/{key}")
async def edit_price(key: str, body: PriceIn, admin: AdminDep, session: SessionDep) -> dict[str, Any]:
    return service.price_out(await service.edit_price(session, admin, key[:64], body.amount))


@router.post("/admin/billing/credits", status_code=201)
async def admin_credits(body: CreditsIn, admin: AdminDep, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    if not body.user_id or not body.amount:
        raise InvalidInput("give a user_id and a non-zero amount")
    return service.entry_out(await service.grant(session, platform, admin, body.user_id, body.amount, body.reason,
                                                 body.wallet))


@router.post("/admin/billing/vouchers", status_code=201)
async def create_voucher(body: VoucherIn, admin: AdminDep, session: SessionDep) -> dict[str, Any]:
    voucher, code = await service.create_voucher(session, admin, body.credits, body.code, body.max_redemptions,
                                                 aware(body.expires_at))
    return {"id": voucher.id, "code": code, "credits": body.credits, "max_redemptions": body.max_redemptions,
            "expires_at": body.expires_at}

"""Monthly invoices, written once from the ledger at the month's end (``meter._roll_over``) and
never changed; read as JSON or PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, iso
from cumulo.core.errors import not_found
from cumulo.core.ids import new_id
from cumulo.services.billing import ledger, pdf
from cumulo.services.billing.models import Account, Entry, Invoice


async def issue(session: AsyncSession, account: Account, month: str, now: dt.datetime) -> bool:
    """Write the month's invoice unless it exists (unique per user and month); True if written."""
    entries = (await session.scalars(select(Entry).where(Entry.user_id == account.user_id, Entry.month == month)
                                     .order_by(Entry.period_start, Entry.created_at, Entry.key))).all()
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    credits = 0
    for e in entries:
        if e.kind != "charge":
            if e.amount > 0:
                credits += e.amount
            continue
        key = (e.service, e.resource_type, e.resource_id)
        group = groups.setdefault(key, {"service": e.service, "resource_type": e.resource_type,
                                        "resource_id": e.resource_id, "description": e.description.split(":")[0],
                                        "quantity": 0.0, "unit": e.unit, "amount_micro": 0})
        group["quantity"] = round(group["quantity"] + e.quantity, 6)
        group["amount_micro"] += -e.amount
    lines = sorted(groups.values(), key=lambda g: (g["service"], g["description"]))
    charges = sum(g["amount_micro"] for g in lines)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(Invoice).values(id=new_id(), user_id=account.user_id, month=month, plan_id=account.plan_id,
                                           charges=charges, credits=credits, lines=lines, issued_at=now)
            .on_conflict_do_nothing(index_elements=["user_id", "month"]).returning(Invoice.id))
    return (await session.execute(stmt)).scalar() is not None


def invoice_out(inv: Invoice) -> dict[str, Any]:
    return {"id": inv.id, "month": inv.month, "plan": inv.plan_id, "issued_at": iso(aware(inv.issued_at)),
            "total": ledger.credits(inv.charges), "credits": ledger.credits(inv.credits),
            "lines": [{k: v for k, v in line.items() if k != "amount_micro"} | {"amount": ledger.credits(line["amount_micro"])}
                      for line in inv.lines or []]}


async def list_invoices(session: AsyncSession, user_id: str) -> list[Invoice]:
    return list((await session.scalars(select(Invoice).where(Invoice.user_id == user_id)
                                       .order_by(Invoice.month.desc()))).all())


async def get_invoice(session: AsyncSession, user_id: str, ref: str) -> Invoice:
    inv = await session.scalar(select(Invoice).where(Invoice.user_id == user_id,
                                                     (Invoice.id == ref) | (Invoice.month == ref)))
    if inv is None:
        raise not_found("invoice", ref)
    return inv


def render_pdf(inv: Invoice, email: str) -> bytes:
    data = invoice_out(inv)
    rows = [f"CUMULO INVOICE {inv.month}", "", f"Invoice: {inv.id}", f"Account: {email}", f"Plan: {inv.plan_id}",
            f"Issued: {data['issued_at']}", "", f"{'Service':<10} {'Resource':<44} {'Qty':>12} {'Credits':>12}",
            "-" * 81]
    for line in data["lines"]:
        rows.append(f"{line['service'][:10]:<10} {line['description'][:44]:<44} "
                    f"{line['quantity']:>8.2f} {line['unit'][:3]:<3} {line['amount']:>12.4f}")
    rows += ["-" * 81, f"{'Total charges':<68} {data['total']:>12.4f}",
             f"{'Credits granted or added this month':<68} {data['credits']:>12.4f}"]
    return pdf.document(rows)

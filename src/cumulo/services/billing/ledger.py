"""The append-only ledger: post lines once (by unique key), read balances.

``post`` inserts with ``ON CONFLICT (key) DO NOTHING`` and answers the keys it actually wrote, so a
second meter pass, another process or a rerun after a crash charges nothing twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.ids import new_id
from cumulo.services.billing.models import MICRO, Entry

CREDIT_KINDS = ("grant", "voucher", "refund", "adjustment")


def month_of(when: dt.datetime) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def month_start(month: str) -> dt.datetime:
    year, mon = month.split("-")
    return dt.datetime(int(year), int(mon), 1, tzinfo=dt.UTC)


def next_month(month: str) -> str:
    start = month_start(month)
    return month_of((start + dt.timedelta(days=32)).replace(day=1))


def credits(micro: float | None) -> float:
    """Micro-credits as credits, for display (six decimals)."""
    return round((micro or 0) / MICRO, 6)


def micro(value: float) -> int:
    return round(value * MICRO)


def line(key: str, user_id: str, kind: str, amount: int, month: str, **fields: Any) -> dict[str, Any]:
    row = {"id": new_id(), "key": key, "user_id": user_id, "kind": kind, "amount": amount, "month": month,
           "wallet": "granted", "service": "", "resource_type": "", "resource_id": "", "quantity": 0.0, "unit": "",
           "description": "", "period_start": None, "period_end": None}
    row.update(fields)
    row.setdefault("created_at", None)
    if row["created_at"] is None:
        from cumulo.core.clock import utcnow

        row["created_at"] = utcnow()
    return row


async def post(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the lines whose key is new; the keys written."""
    if not rows:
        return set()
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    table = Entry.__table__  # Core, not the ORM's bulk insert: a closing pass writes 10,000s of lines
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)
    written: set[str] = set()
    for start in range(0, len(rows), 1000):
        result = await session.execute(stmt, rows[start:start + 1000])
        written.update(result.scalars().all())
    return written


async def balance(session: AsyncSession, user_id: str) -> int:
    return int(await session.scalar(select(func.coalesce(func.sum(Entry.amount), 0))
                                    .where(Entry.user_id == user_id)) or 0)


async def month_totals(session: AsyncSession, user_id: str, month: str) -> dict[str, int]:
    """The month's granted credits (grants less expiries of the granted wallet), paid credits and
    charges (positive)."""
    granted = func.sum(case(((Entry.wallet == "granted") & (Entry.kind != "charge"), Entry.amount), else_=0))
    paid = func.sum(case(((Entry.wallet == "paid") & (Entry.kind != "charge"), Entry.amount), else_=0))
    charged = func.sum(case((Entry.kind == "charge", -Entry.amount), else_=0))
    row = (await session.execute(select(granted, paid, charged)
                                 .where(Entry.user_id == user_id, Entry.month == month))).one()
    return {"granted": int(row[0] or 0), "paid": int(row[1] or 0), "charged": int(row[2] or 0)}

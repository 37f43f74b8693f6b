"""The append-only ledger: post lines once (by unique key), read balances.

``post`` inserts with ``ON CONFLICT (key) DO NOTHING`` and answers the keys it actually wrote, so a
second meter pass, another process or a rerun after a crash charges nothing twice."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, case, func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.ids import new_id
from cumulo.services.billing.models import MICRO, Entry

CREDIT_KINDS = ("grant", "voucher", "refund", "adjustment")
SPENT = ("charge", "refund")  # what a month used: its charges less the refunds of them (``refunds``)


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


_COLUMNS = ("id", "key", "user_id", "kind", "wallet", "amount", "month", "service", "resource_type", "resource_id",
            "quantity", "unit", "description", "period_start", "period_end", "created_at")
_PG_TYPES = {"amount": "bigint[]", "quantity": "float8[]", "period_start": "timestamptz[]",
             "period_end": "timestamptz[]", "created_at": "timestamptz[]"}
# PostgreSQL: a whole batch in one statement, each column as one array (10,000 lines in one round trip)
_PG_POST = text(f"INSERT INTO billing_ledger ({', '.join(_COLUMNS)}) SELECT * FROM unnest("
                + ", ".join(f"CAST(:{c} AS {_PG_TYPES.get(c, 'text[]')})" for c in _COLUMNS)
                + ") ON CONFLICT (key) DO NOTHING RETURNING key, user_id, amount")
_CREDIT = text("UPDATE billing_accounts SET posted = posted + :delta WHERE user_id = :user_id")


async def post(session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the lines whose key is new and add them to their accounts' ``posted`` sums, in the
    caller's transaction; the keys written."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        result = await session.execute(_PG_POST, {c: [row[c] for row in rows] for c in _COLUMNS})
        inserted = result.all()
    else:
        # Core, not the ORM's bulk insert (declarative types __table__ as FromClause; a mapped class's is its Table)
        table = cast(Table, Entry.__table__)
        stmt = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["key"])
                .returning(table.c.key, table.c.user_id, table.c.amount))
        inserted = []
        for start in range(0, len(rows), 1000):
            inserted.extend((await session.execute(stmt, rows[start:start + 1000])).all())
    deltas: dict[str, int] = {}
    for _key, user_id, amount in inserted:
        deltas[user_id] = deltas.get(user_id, 0) + int(amount)
    if deltas:
        await session.execute(_CREDIT, [{"user_id": u, "delta": d} for u, d in sorted(deltas.items())])
    return {key for key, _user, _amount in inserted}


async def balance(session: AsyncSession, user_id: str) -> int:
    """The account's posted balance (kept by ``post``)."""
    from cumulo.services.billing.models import Account

    return int(await session.scalar(select(Account.posted).where(Account.user_id == user_id)) or 0)


def totals() -> tuple[Any, Any, Any]:
    """Sums of ledger lines: the credits of the granted wallet (grants less expiries), of the paid one,
    and what was used (charges less their refunds: a refund gives back part of a charge, it is no credit)."""
    spent = Entry.kind.in_(SPENT)
    granted = func.sum(case(((Entry.wallet == "granted") & ~spent, Entry.amount), else_=0))
    paid = func.sum(case(((Entry.wallet == "paid") & ~spent, Entry.amount), else_=0))
    return granted, paid, func.sum(case((spent, -Entry.amount), else_=0))


async def month_totals(session: AsyncSession, user_id: str, month: str) -> dict[str, int]:
    """The month's granted credits (grants less expiries of the granted wallet), paid credits and
    charges less refunds (positive)."""
    granted, paid, charged = totals()
    row = (await session.execute(select(granted, paid, charged)
                                 .where(Entry.user_id == user_id, Entry.month == month))).one()
    return {"granted": int(row[0] or 0), "paid": int(row[1] or 0), "charged": int(row[2] or 0)}

"""billing_plans, billing_prices, billing_accounts, billing_ledger, billing_meters, billing_vouchers,
billing_notices, billing_invoices; the default plans and prices

Revision ID: billing_0001
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "billing_0001"
down_revision = None
branch_labels = ("billing",)
depends_on = None

TS = sa.DateTime(timezone=True)
MICRO = 1_000_000


def upgrade() -> None:
    plans = op.create_table(
        "billing_plans",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("monthly_credits", sa.BigInteger(), nullable=False),
        sa.Column("overage", sa.Boolean(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    prices = op.create_table(
        "billing_prices",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "billing_accounts",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("budget", sa.BigInteger(), nullable=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("accrued", sa.BigInteger(), nullable=False),
        sa.Column("accrued_at", TS, nullable=True),
        sa.Column("exhausted_at", TS, nullable=True),
        sa.Column("suspended_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "billing_ledger",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("wallet", sa.String(8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("period_start", TS, nullable=True),
        sa.Column("period_end", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("key", name="uq_billing_ledger_key"),
    )
    op.create_index("ix_billing_ledger_user_month", "billing_ledger", ["user_id", "month"])
    op.create_table(
        "billing_meters",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("running_since", TS, nullable=True),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("rated_until", TS, nullable=True),
        sa.Column("cap_month", sa.String(7), nullable=False),
        sa.Column("cap_used", sa.BigInteger(), nullable=False),
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_billing_meters_user", "billing_meters", ["user_id"])
    op.create_table(
        "billing_vouchers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=False),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("code_hash", name="uq_billing_vouchers_code_hash"),
    )
    op.create_table(
        "billing_notices",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("charges", sa.BigInteger(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "month", name="uq_billing_invoices_user_month"),
    )
    op.create_index("ix_billing_invoices_user_id", "billing_invoices", ["user_id"])

    from cumulo.services.billing.catalog import PLANS, PRICES

    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(prices, [{"key": k, "amount": round(v * MICRO), "unit": unit, "description": text,
                             "updated_at": now} for k, (v, unit, text) in PRICES.items()])
    op.bulk_insert(plans, [{"id": pid, "name": name, "price": price, "monthly_credits": round(credits * MICRO),
                            "overage": overage, "limits": limits, "features": features, "position": i,
                            "created_at": now, "updated_at": now}
                           for i, (pid, (name, price, credits, overage, limits, features)) in enumerate(PLANS.items())])


def downgrade() -> None:
    for table in ("billing_invoices", "billing_notices", "billing_vouchers", "billing_meters", "billing_ledger",
                  "billing_accounts", "billing_prices", "billing_plans"):
        op.drop_table(table)

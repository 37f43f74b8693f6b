"""The prices of managed databases, caches, load balancers and functions, for a database whose
price table was written before they were metered (a new one has them from billing_0001)

Revision ID: billing_0003
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "billing_0003"
down_revision = "billing_0002"
branch_labels = None
depends_on = None

MICRO = 1_000_000


def upgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0003, PRICES

    insert = sa.text("INSERT INTO billing_prices (key, amount, unit, description, updated_at) "
                     "SELECT CAST(:key AS VARCHAR(64)), :amount, :unit, :description, :now WHERE NOT EXISTS "
                     "(SELECT 1 FROM billing_prices WHERE key = CAST(:key AS VARCHAR(64)))")
    now = dt.datetime.now(dt.UTC)
    for key in ADDED_0003:
        value, unit, text = PRICES[key]
        op.get_bind().execute(insert, {"key": key, "amount": round(value * MICRO), "unit": unit,
                                       "description": text, "now": now})


def downgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0003

    op.get_bind().execute(sa.text("DELETE FROM billing_prices WHERE key IN :keys")
                          .bindparams(sa.bindparam("keys", expanding=True)), {"keys": list(ADDED_0003)})

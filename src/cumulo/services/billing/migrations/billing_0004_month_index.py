"""billing_ledger (month, user_id): the thresholds' per-pass sum of the month reads that month's lines
only, not the whole history (a seq scan of every month's lines, every pass, otherwise)

Revision ID: billing_0004
"""

from alembic import op

revision = "billing_0004"
down_revision = "billing_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_billing_ledger_month_user", "billing_ledger", ["month", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_billing_ledger_month_user", table_name="billing_ledger")

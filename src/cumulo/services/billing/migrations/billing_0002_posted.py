"""billing_accounts.posted: the account's ledger sum, kept by every post (no sum over the whole
ledger on each balance read, launch or meter pass)

Revision ID: billing_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0002"
down_revision = "billing_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("billing_accounts", sa.Column("posted", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE billing_accounts SET posted = COALESCE((SELECT SUM(amount) FROM billing_ledger "
               "WHERE billing_ledger.user_id = billing_accounts.user_id), 0)")


def downgrade() -> None:
    op.drop_column("billing_accounts", "posted")

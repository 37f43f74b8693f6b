"""API key expiry, scopes and origin; login failures per (account, source address)

Revision ID: identity_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", TS, nullable=True))
    op.add_column("api_keys", sa.Column("scopes", sa.String(500), nullable=True))
    op.add_column("api_keys", sa.Column("login", sa.Boolean(), nullable=False, server_default=sa.false()))
    # failure counters are short-lived: the old per-email rows are dropped with their table
    op.drop_table("login_failures")
    op.create_table(
        "login_failures",
        sa.Column("email", sa.String(255), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_login_failures_updated_at", "login_failures", ["updated_at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    op.create_table(
        "login_failures",
        sa.Column("email", sa.String(255), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    for column in ("login", "scopes", "expires_at"):
        op.drop_column("api_keys", column)

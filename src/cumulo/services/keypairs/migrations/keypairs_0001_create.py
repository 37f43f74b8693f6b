"""keypairs

Revision ID: keypairs_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "keypairs_0001"
down_revision = None
branch_labels = ("keypairs",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "keypairs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_keypairs_user_name"),
    )
    op.create_index("ix_keypairs_user_id", "keypairs", ["user_id"])


def downgrade() -> None:
    op.drop_table("keypairs")

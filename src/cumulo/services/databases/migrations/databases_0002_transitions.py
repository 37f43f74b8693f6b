"""databases: the exact time of the last state change (and of storage, for databases), for the meter

Revision ID: databases_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "databases_0002"
down_revision = "databases_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("databases", sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("databases", sa.Column("state_changed_key", sa.String(64), nullable=True))
    op.add_column("databases", sa.Column("storage_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("databases", sa.Column("storage_changed_key", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("databases", "storage_changed_key")
    op.drop_column("databases", "storage_changed_at")
    op.drop_column("databases", "state_changed_key")
    op.drop_column("databases", "state_changed_at")

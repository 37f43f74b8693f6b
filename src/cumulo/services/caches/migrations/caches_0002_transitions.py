"""caches: the exact time of the last state change (and of storage, for databases), for the meter

Revision ID: caches_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "caches_0002"
down_revision = "caches_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("caches", sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("caches", sa.Column("state_changed_key", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("caches", "state_changed_key")
    op.drop_column("caches", "state_changed_at")

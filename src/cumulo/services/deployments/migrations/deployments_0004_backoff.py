"""deployments: the crash-loop backoff (failures in a row, no start before) kept in the database

Revision ID: deployments_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "deployments_0004"
down_revision = "deployments_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("backoff_failures", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("backoff_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("backoff_until")
        batch.drop_column("backoff_failures")

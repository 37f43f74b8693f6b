"""deployments: when the rollout last made progress (for its progress deadline)

Revision ID: deployments_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "deployments_0002"
down_revision = "deployments_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("progress_at")

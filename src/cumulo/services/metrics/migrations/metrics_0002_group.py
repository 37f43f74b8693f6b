"""instance_metrics.group_id: the deployment a replica's sample belongs to

Revision ID: metrics_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "metrics_0002"
down_revision = "metrics_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("instance_metrics", sa.Column("group_id", sa.String(36), nullable=True))
    op.create_index("ix_instance_metrics_group_at", "instance_metrics", ["group_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_instance_metrics_group_at", "instance_metrics")
    op.drop_column("instance_metrics", "group_id")

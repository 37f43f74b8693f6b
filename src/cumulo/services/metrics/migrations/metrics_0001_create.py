"""instance_metrics

Revision ID: metrics_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "metrics_0001"
down_revision = None
branch_labels = ("metrics",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_metrics",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cpu_percent", sa.Float(), nullable=False),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("memory_limit_bytes", sa.BigInteger(), nullable=False),
        sa.Column("pids", sa.Integer(), nullable=False),
    )
    op.create_index("ix_instance_metrics_instance_at", "instance_metrics", ["instance_id", "at"])
    op.create_index("ix_instance_metrics_at", "instance_metrics", ["at"])


def downgrade() -> None:
    op.drop_table("instance_metrics")

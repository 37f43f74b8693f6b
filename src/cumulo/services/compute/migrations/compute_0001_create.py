"""instances

Revision ID: compute_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "compute_0001"
down_revision = None
branch_labels = ("compute",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("image", sa.String(255), nullable=False),
        sa.Column("image_ref", sa.String(255), nullable=False),
        sa.Column("desired", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("ports", sa.String(200), nullable=False),
        sa.Column("ports_bound", sa.String(200), nullable=False),
        sa.Column("env", sa.JSON(), nullable=False),
        sa.Column("command", sa.JSON(), nullable=True),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("password_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("vpc_id", sa.String(36), nullable=True),
        sa.Column("subnet_id", sa.String(36), nullable=True),
        sa.Column("network_name", sa.String(128), nullable=True),
        sa.Column("ipv4_address", sa.String(45), nullable=True),
        sa.Column("container_id", sa.String(80), nullable=True),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("launched_at", TS, nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_instances_user_name"),
    )
    op.create_index("ix_instances_user_id", "instances", ["user_id"])
    op.create_index("ix_instances_status", "instances", ["status"])
    op.create_index("ix_instances_expires_at", "instances", ["expires_at"])


def downgrade() -> None:
    op.drop_table("instances")

"""volumes, volume_attachments, volume_snapshots

Revision ID: volumes_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "volumes_0001"
down_revision = None
branch_labels = ("volumes",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("size_gb", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("backend", sa.String(10), nullable=False),
        sa.Column("docker_volume", sa.String(80), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_volumes_user_name"),
    )
    op.create_index("ix_volumes_user_id", "volumes", ["user_id"])
    op.create_table(
        "volume_attachments",
        sa.Column("volume_id", sa.String(36), sa.ForeignKey("volumes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("mount_path", sa.String(255), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("instance_id", "mount_path", name="uq_volume_attachments_path"),
    )
    op.create_index("ix_volume_attachments_instance_id", "volume_attachments", ["instance_id"])
    op.create_table(
        "volume_snapshots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("volume_name", sa.String(64), nullable=False),
        sa.Column("size_gb", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_volume_snapshots_user_id", "volume_snapshots", ["user_id"])
    op.create_index("ix_volume_snapshots_volume_id", "volume_snapshots", ["volume_id"])


def downgrade() -> None:
    op.drop_table("volume_snapshots")
    op.drop_table("volume_attachments")
    op.drop_table("volumes")

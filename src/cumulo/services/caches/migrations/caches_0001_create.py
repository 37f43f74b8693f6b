"""caches

Revision ID: caches_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "caches_0001"
down_revision = None
branch_labels = ("caches",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "caches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.Column("eviction_policy", sa.String(20), nullable=False),
        sa.Column("persistence", sa.String(8), nullable=False),
        sa.Column("storage_gb", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("secret_id", sa.String(36), nullable=True),
        sa.Column("secret_name", sa.String(128), nullable=False),
        sa.Column("vpc_id", sa.String(36), nullable=True),
        sa.Column("network_name", sa.String(80), nullable=True),
        sa.Column("address", sa.String(45), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("host_port", sa.Integer(), nullable=True),
        sa.Column("disk_backend", sa.String(10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_caches_user_name"),
    )
    op.create_index("ix_caches_user_id", "caches", ["user_id"])


def downgrade() -> None:
    op.drop_table("caches")

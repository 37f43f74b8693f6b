"""images

Revision ID: images_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "images_0001"
down_revision = None
branch_labels = ("images",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("docker_ref", sa.String(255), nullable=False),
        sa.Column("docker_id", sa.String(80), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", "tag", name="uq_images_user_name_tag"),
    )
    op.create_index("ix_images_user_id", "images", ["user_id"])


def downgrade() -> None:
    op.drop_table("images")

"""instance_host_ports: the host ports instances hold (unique)

Revision ID: compute_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "compute_0002"
down_revision = "compute_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_host_ports",
        sa.Column("port", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_instance_host_ports_instance_id", "instance_host_ports", ["instance_id"])


def downgrade() -> None:
    op.drop_table("instance_host_ports")

"""vpcs.default_for: a user's default VPC (one per user)

Revision ID: network_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "network_0002"
down_revision = "network_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vpcs", sa.Column("default_for", sa.String(36), nullable=True))
    op.create_index("ix_vpcs_default_for", "vpcs", ["default_for"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_vpcs_default_for", "vpcs")
    op.drop_column("vpcs", "default_for")

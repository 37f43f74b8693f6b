"""deployment_volumes: each replica slot's own volumes (one per mount path of the spec)

Revision ID: deployments_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "deployments_0003"
down_revision = "deployments_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_volumes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("deployment_id", sa.String(36), sa.ForeignKey("deployments.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("mount_path", sa.String(255), nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.UniqueConstraint("deployment_id", "slot", "mount_path", name="uq_deployment_volumes_slot_path"),
    )
    op.create_index("ix_deployment_volumes_deployment_id", "deployment_volumes", ["deployment_id"])


def downgrade() -> None:
    op.drop_table("deployment_volumes")

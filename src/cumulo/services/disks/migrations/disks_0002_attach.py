"""disks: the VM a disk is attached to

Revision ID: disks_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "disks_0002"
down_revision = "disks_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("disks") as batch:
        batch.add_column(sa.Column("instance_id", sa.String(36), nullable=True))
        batch.create_index("ix_disks_instance_id", ["instance_id"])


def downgrade() -> None:
    with op.batch_alter_table("disks") as batch:
        batch.drop_index("ix_disks_instance_id")
        batch.drop_column("instance_id")

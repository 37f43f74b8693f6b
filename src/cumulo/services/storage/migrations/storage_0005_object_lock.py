"""Object Lock (issue 14): storage_buckets.object_lock, storage_objects.lock_mode/lock_until/legal_hold

Revision ID: storage_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0005"
down_revision = "storage_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storage_buckets") as batch:
        batch.add_column(sa.Column("object_lock", sa.JSON(), nullable=True))
    with op.batch_alter_table("storage_objects") as batch:
        batch.add_column(sa.Column("lock_mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("lock_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.text("false")))


def downgrade() -> None:
    with op.batch_alter_table("storage_objects") as batch:
        for column in ("legal_hold", "lock_until", "lock_mode"):
            batch.drop_column(column)
    with op.batch_alter_table("storage_buckets") as batch:
        batch.drop_column("object_lock")

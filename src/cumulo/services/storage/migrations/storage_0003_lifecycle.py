"""storage_buckets.lifecycle: lifecycle rules (issue 14)

Revision ID: storage_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0003"
down_revision = "storage_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storage_buckets") as batch:
        batch.add_column(sa.Column("lifecycle", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("storage_buckets") as batch:
        batch.drop_column("lifecycle")

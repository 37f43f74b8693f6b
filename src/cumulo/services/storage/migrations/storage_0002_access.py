"""storage_buckets: public access block, bucket ACL and object ownership (issue 14)

Revision ID: storage_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0002"
down_revision = "storage_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storage_buckets") as batch:
        batch.add_column(sa.Column("public_block", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("acl", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("ownership", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("storage_buckets") as batch:
        for column in ("ownership", "acl", "public_block"):
            batch.drop_column(column)

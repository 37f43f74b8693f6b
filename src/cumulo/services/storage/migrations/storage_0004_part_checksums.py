"""storage_parts.checksum: a part's x-amz-checksum-* as "<algorithm>:<base64>" (issue 14)

Revision ID: storage_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0004"
down_revision = "storage_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storage_parts") as batch:
        batch.add_column(sa.Column("checksum", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("storage_parts") as batch:
        batch.drop_column("checksum")

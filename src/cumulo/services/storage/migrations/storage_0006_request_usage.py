"""S3 requests per bucket and minute, for billing (issue 19): storage_request_usage

Revision ID: storage_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0006"
down_revision = "storage_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_request_usage",
        sa.Column("bucket_id", sa.String(36), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("bucket_name", sa.String(63), nullable=False),
        sa.Column("put_requests", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("get_requests", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("bucket_id", "minute", name="pk_storage_request_usage"),
    )
    op.create_index("ix_storage_request_usage_minute", "storage_request_usage", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_storage_request_usage_minute", table_name="storage_request_usage")
    op.drop_table("storage_request_usage")

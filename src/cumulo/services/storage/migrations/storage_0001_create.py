"""storage tables

Revision ID: storage_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0001"
down_revision = None
branch_labels = ("storage",)
depends_on = ("identity_0001",)

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Object keys sort as bytes (S3 order); PostgreSQL's default collation would not.
    key_type = sa.String(1024, collation="C") if op.get_bind().dialect.name == "postgresql" else sa.String(1024)
    op.create_table(
        "storage_buckets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("versioning", sa.String(16), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("cors", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_storage_buckets_user_id", "storage_buckets", ["user_id"])
    op.create_table(
        "storage_objects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("bucket_id", sa.String(36), sa.ForeignKey("storage_buckets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("key", key_type, nullable=False),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("is_latest", sa.Boolean(), nullable=False),
        sa.Column("is_delete_marker", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("blob_id", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_storage_objects_latest", "storage_objects", ["bucket_id", "key"], unique=True,
                    sqlite_where=sa.text("is_latest"), postgresql_where=sa.text("is_latest"))
    op.create_index("ix_storage_objects_versions", "storage_objects", ["bucket_id", "key", "seq"])
    op.create_table(
        "storage_uploads",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("bucket_id", sa.String(36), sa.ForeignKey("storage_buckets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("key", key_type, nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_storage_uploads_bucket_id", "storage_uploads", ["bucket_id"])
    op.create_table(
        "storage_parts",
        sa.Column("upload_id", sa.String(36), sa.ForeignKey("storage_uploads.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("blob_id", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "storage_credentials",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("access_key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used", TS, nullable=True),
    )
    op.create_index("ix_storage_credentials_user_id", "storage_credentials", ["user_id"])


def downgrade() -> None:
    for table in ("storage_credentials", "storage_parts", "storage_uploads", "storage_objects", "storage_buckets"):
        op.drop_table(table)

"""databases, database_backups

Revision ID: databases_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "databases_0001"
down_revision = None
branch_labels = ("databases",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "databases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("cpus", sa.Float(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("storage_gb", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("desired", sa.String(10), nullable=False),
        sa.Column("database_name", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("secret_id", sa.String(36), nullable=True),
        sa.Column("secret_name", sa.String(128), nullable=False),
        sa.Column("vpc_id", sa.String(36), nullable=True),
        sa.Column("network_name", sa.String(80), nullable=True),
        sa.Column("address", sa.String(45), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("host_port", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("backup_retention_days", sa.Integer(), nullable=False),
        sa.Column("backup_window", sa.String(11), nullable=False),
        sa.Column("last_backup_at", TS, nullable=True),
        sa.Column("disk_backend", sa.String(10), nullable=False),
        sa.Column("restored_from", sa.String(36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_databases_user_name"),
    )
    op.create_index("ix_databases_user_id", "databases", ["user_id"])
    op.create_table(
        "database_backups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("database_id", sa.String(36), nullable=False),
        sa.Column("database_name", sa.String(64), nullable=False),
        sa.Column("engine", sa.String(16), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_database_backups_user_id", "database_backups", ["user_id"])
    op.create_index("ix_database_backups_database_id", "database_backups", ["database_id"])


def downgrade() -> None:
    op.drop_table("database_backups")
    op.drop_table("databases")

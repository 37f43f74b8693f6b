"""secret_data_keys, secrets, secret_versions

Revision ID: secrets_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "secrets_0001"
down_revision = None
branch_labels = ("secrets",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "secret_data_keys",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_fp", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("rewrapped_at", TS, nullable=True),
    )
    op.create_table(
        "secrets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_accessed_at", TS, nullable=True),
        sa.Column("delete_after", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_secrets_user_name"),
    )
    op.create_index("ix_secrets_user_id", "secrets", ["user_id"])
    op.create_index("ix_secrets_delete_after", "secrets", ["delete_after"])
    op.create_table(
        "secret_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("secret_id", sa.String(36), sa.ForeignKey("secrets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("secret_id", "version", name="uq_secret_versions_secret_version"),
    )


def downgrade() -> None:
    op.drop_table("secret_versions")
    op.drop_table("secrets")
    op.drop_table("secret_data_keys")

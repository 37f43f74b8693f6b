"""functions, function_versions, function_invocations, function_event_sources

Revision ID: functions_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "functions_0001"
down_revision = None
branch_labels = ("functions",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "functions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_functions_user_name"),
    )
    op.create_index("ix_functions_user_id", "functions", ["user_id"])
    op.create_table(
        "function_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("function_id", sa.String(36), sa.ForeignKey("functions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("runtime", sa.String(32), nullable=False),
        sa.Column("handler", sa.String(128), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("env", sa.JSON(), nullable=False),
        sa.Column("env_secrets", sa.JSON(), nullable=False),
        sa.Column("vpc_id", sa.String(36), nullable=True),
        sa.Column("dead_letter_queue_id", sa.String(36), nullable=True),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("code_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("function_id", "version", name="uq_function_versions_function_version"),
    )
    op.create_table(
        "function_invocations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("function_id", sa.String(36), sa.ForeignKey("functions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_async", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("cold_start", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_function_invocations_function_created", "function_invocations", ["function_id", "created_at"])
    op.create_index("ix_function_invocations_status_next", "function_invocations", ["status", "next_attempt_at"])
    op.create_table(
        "function_event_sources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("function_id", sa.String(36), sa.ForeignKey("functions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("queue_id", sa.String(36), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("function_id", "queue_id", name="uq_function_event_sources_fn_queue"),
    )
    op.create_index("ix_function_event_sources_function_id", "function_event_sources", ["function_id"])


def downgrade() -> None:
    op.drop_table("function_event_sources")
    op.drop_table("function_invocations")
    op.drop_table("function_versions")
    op.drop_table("functions")

"""notify topics, subscriptions, messages, deliveries, attempts

Revision ID: notify_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0001"
down_revision = None
branch_labels = ("notify",)
depends_on = None

TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "notify_topics", _id(),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_notify_topics_user_name"),
    )
    op.create_index("ix_notify_topics_user_id", "notify_topics", ["user_id"])
    op.create_table(
        "notify_subscriptions", _id(),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("topic_id", sa.String(36), sa.ForeignKey("notify_topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("protocol", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("filter_policy", sa.JSON(), nullable=True),
        sa.Column("raw_message_delivery", sa.Boolean(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_base_seconds", sa.Float(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("dead_letter_queue_id", sa.String(36), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("topic_id", "protocol", "endpoint", name="uq_notify_subscriptions_target"),
    )
    op.create_index("ix_notify_subscriptions_user_id", "notify_subscriptions", ["user_id"])
    op.create_index("ix_notify_subscriptions_topic_id", "notify_subscriptions", ["topic_id"])
    op.create_table(
        "notify_messages", _id(),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("topic_id", sa.String(36), sa.ForeignKey("notify_topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(256), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_notify_messages_topic_id", "notify_messages", ["topic_id"])
    op.create_table(
        "notify_deliveries", _id(),
        sa.Column("subscription_id", sa.String(36),
                  sa.ForeignKey("notify_subscriptions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.String(36), sa.ForeignKey("notify_messages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_notify_deliveries_subscription_id", "notify_deliveries", ["subscription_id"])
    op.create_index("ix_notify_deliveries_due", "notify_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "notify_attempts", _id(),
        sa.Column("delivery_id", sa.String(36), sa.ForeignKey("notify_deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_notify_attempts_delivery_id", "notify_attempts", ["delivery_id"])


def downgrade() -> None:
    for table in ("notify_attempts", "notify_deliveries", "notify_messages", "notify_subscriptions",
                  "notify_topics"):
        op.drop_table(table)

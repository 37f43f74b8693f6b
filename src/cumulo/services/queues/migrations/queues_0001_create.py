"""queues and queue_messages

Revision ID: queues_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "queues_0001"
down_revision = None
branch_labels = ("queues",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("visibility_timeout", sa.Integer(), nullable=False),
        sa.Column("retention_seconds", sa.Integer(), nullable=False),
        sa.Column("max_message_size", sa.Integer(), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.Column("receive_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("dead_letter_queue_id", sa.String(36), nullable=True),
        sa.Column("max_receive_count", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_queues_user_name"),
    )
    op.create_index("ix_queues_user_id", "queues", ["user_id"])
    op.create_index("ix_queues_dead_letter_queue_id", "queues", ["dead_letter_queue_id"])
    op.create_table(
        "queue_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("queue_id", sa.String(36), sa.ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("visible_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("receipt", sa.String(40), nullable=True),
        sa.Column("received_count", sa.Integer(), nullable=False),
        sa.Column("first_received_at", TS, nullable=True),
        sa.Column("source_queue_id", sa.String(36), nullable=True),
        sa.Column("sent_at", TS, nullable=False),
    )
    op.create_index("ix_queue_messages_queue_visible", "queue_messages", ["queue_id", "visible_at"])
    op.create_index("ix_queue_messages_expires_at", "queue_messages", ["expires_at"])


def downgrade() -> None:
    op.drop_table("queue_messages")
    op.drop_table("queues")

"""deployments, deployment_revisions, deployment_replicas

Revision ID: deployments_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "deployments_0001"
down_revision = None
branch_labels = ("deployments",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("replicas", sa.Integer, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("vpc_id", sa.String(36), nullable=True),
        sa.Column("load_balancer_id", sa.String(36), nullable=True),
        sa.Column("update_config", sa.JSON, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("deleting", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_deployments_user_name"),
    )
    op.create_index("ix_deployments_user_id", "deployments", ["user_id"])
    op.create_table(
        "deployment_revisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("deployment_id", sa.String(36), sa.ForeignKey("deployments.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("deployment_id", "number", name="uq_deployment_revisions_deployment_id"),
    )
    op.create_index("ix_deployment_revisions_deployment_id", "deployment_revisions", ["deployment_id"])
    op.create_table(
        "deployment_replicas",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("deployment_id", sa.String(36), sa.ForeignKey("deployments.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("slot", sa.Integer, nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("restarts", sa.Integer, nullable=False),
        sa.Column("in_lb", sa.Boolean, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("checked_at", TS, nullable=True),
        sa.Column("healthy_at", TS, nullable=True),
        sa.Column("drain_until", TS, nullable=True),
    )
    op.create_index("ix_deployment_replicas_deployment_id", "deployment_replicas", ["deployment_id"])


def downgrade() -> None:
    op.drop_table("deployment_replicas")
    op.drop_table("deployment_revisions")
    op.drop_table("deployments")

"""autoscaling_groups, autoscaling_members, autoscaling_activities

Revision ID: autoscaling_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "autoscaling_0001"
down_revision = None
branch_labels = ("autoscaling",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "autoscaling_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("launch_template", sa.JSON, nullable=False),
        sa.Column("min_size", sa.Integer, nullable=False),
        sa.Column("max_size", sa.Integer, nullable=False),
        sa.Column("desired_capacity", sa.Integer, nullable=False),
        sa.Column("load_balancer_id", sa.String(36), nullable=True),
        sa.Column("target_port", sa.Integer, nullable=True),
        sa.Column("policies", sa.JSON, nullable=False),
        sa.Column("cooldown_seconds", sa.Integer, nullable=False),
        sa.Column("warmup_seconds", sa.Integer, nullable=False),
        sa.Column("scale_in_stabilization_seconds", sa.Integer, nullable=False),
        sa.Column("scale_in_protection", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deleting", sa.Boolean, nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_autoscaling_groups_user_name"),
    )
    op.create_index("ix_autoscaling_groups_user_id", "autoscaling_groups", ["user_id"])
    op.create_table(
        "autoscaling_members",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("group_id", sa.String(36), sa.ForeignKey("autoscaling_groups.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("in_lb", sa.Boolean, nullable=False),
        sa.Column("launched_at", TS, nullable=False),
        sa.Column("drain_until", TS, nullable=True),
    )
    op.create_index("ix_autoscaling_members_group_id", "autoscaling_members", ["group_id"])
    op.create_table(
        "autoscaling_activities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("group_id", sa.String(36), sa.ForeignKey("autoscaling_groups.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("from_capacity", sa.Integer, nullable=False),
        sa.Column("to_capacity", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_autoscaling_activities_group_id", "autoscaling_activities", ["group_id"])
    op.create_index("ix_autoscaling_activities_at", "autoscaling_activities", ["at"])


def downgrade() -> None:
    op.drop_table("autoscaling_activities")
    op.drop_table("autoscaling_members")
    op.drop_table("autoscaling_groups")

"""load_balancers, lb_targets

Revision ID: lb_0001
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "lb_0001"
down_revision = None
branch_labels = ("lb",)
depends_on = None

TS = sa.DateTime(timezone=True)


def _stamps() -> list[sa.Column[dt.datetime]]:
    return [sa.Column("created_at", TS, nullable=False), sa.Column("updated_at", TS, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "load_balancers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("hostname", sa.String(253), nullable=True),
        sa.Column("custom_hostname", sa.Boolean, nullable=False),
        sa.Column("port", sa.Integer, nullable=True),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("hc_path", sa.String(1024), nullable=False),
        sa.Column("hc_port", sa.Integer, nullable=True),
        sa.Column("hc_interval", sa.Float, nullable=False),
        sa.Column("hc_timeout", sa.Float, nullable=False),
        sa.Column("hc_healthy", sa.Integer, nullable=False),
        sa.Column("hc_unhealthy", sa.Integer, nullable=False),
        sa.Column("hc_matcher", sa.String(64), nullable=False),
        sa.Column("sticky_cookie", sa.String(64), nullable=True),
        sa.Column("deregistration_delay", sa.Integer, nullable=False),
        *_stamps(),
        sa.UniqueConstraint("user_id", "name", name="uq_load_balancers_user_name"),
        sa.UniqueConstraint("port", name="uq_load_balancers_port"),
    )
    op.create_index("ix_load_balancers_user_id", "load_balancers", ["user_id"])
    op.create_table(
        "lb_targets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lb_id", sa.String(36), sa.ForeignKey("load_balancers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("weight", sa.Integer, nullable=False),
        sa.Column("address", sa.String(45), nullable=True),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("reason_code", sa.String(48), nullable=True),
        sa.Column("last_failure", sa.Text, nullable=True),
        sa.Column("last_failure_at", TS, nullable=True),
        sa.Column("health_since", TS, nullable=True),
        sa.Column("drain_until", TS, nullable=True),
        *_stamps(),
        sa.UniqueConstraint("lb_id", "instance_id", "port", name="uq_lb_targets_lb_instance_port"),
    )
    op.create_index("ix_lb_targets_lb_id", "lb_targets", ["lb_id"])
    op.create_index("ix_lb_targets_user_id", "lb_targets", ["user_id"])
    op.create_index("ix_lb_targets_instance_id", "lb_targets", ["instance_id"])


def downgrade() -> None:
    op.drop_table("lb_targets")
    op.drop_table("load_balancers")

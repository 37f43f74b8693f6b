"""vpcs, subnets, network_attachments

Revision ID: network_0001
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "network_0001"
down_revision = None
branch_labels = ("network",)
depends_on = None

TS = sa.DateTime(timezone=True)


def _stamps() -> list[sa.Column[dt.datetime]]:
    return [sa.Column("created_at", TS, nullable=False), sa.Column("updated_at", TS, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "vpcs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("cidr_block", sa.String(18), nullable=False),
        sa.Column("network_name", sa.String(80), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("user_id", "name", name="uq_vpcs_user_name"),
        sa.UniqueConstraint("cidr_block", name="uq_vpcs_cidr_block"),
    )
    op.create_index("ix_vpcs_user_id", "vpcs", ["user_id"])
    op.create_table(
        "subnets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("vpc_id", sa.String(36), sa.ForeignKey("vpcs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("cidr_block", sa.String(18), nullable=False),
        sa.Column("availability_zone", sa.String(64), nullable=False),
        *_stamps(),
        sa.UniqueConstraint("vpc_id", "name", name="uq_subnets_vpc_name"),
    )
    op.create_index("ix_subnets_user_id", "subnets", ["user_id"])
    op.create_index("ix_subnets_vpc_id", "subnets", ["vpc_id"])
    op.create_table(
        "network_attachments",
        sa.Column("instance_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("vpc_id", sa.String(36), sa.ForeignKey("vpcs.id"), nullable=False),
        sa.Column("subnet_id", sa.String(36), sa.ForeignKey("subnets.id"), nullable=True),
        sa.Column("ipv4_address", sa.String(15), nullable=True),
        *_stamps(),
        sa.UniqueConstraint("subnet_id", "ipv4_address", name="uq_network_attachments_address"),
    )
    op.create_index("ix_network_attachments_user_id", "network_attachments", ["user_id"])
    op.create_index("ix_network_attachments_vpc_id", "network_attachments", ["vpc_id"])
    op.create_index("ix_network_attachments_subnet_id", "network_attachments", ["subnet_id"])


def downgrade() -> None:
    op.drop_table("network_attachments")
    op.drop_table("subnets")
    op.drop_table("vpcs")

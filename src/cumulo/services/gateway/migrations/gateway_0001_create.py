"""gateway_routes, gateway_hostnames, gateway_route_keys

Revision ID: gateway_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0001"
down_revision = None
branch_labels = ("gateway",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gateway_routes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("hostname", sa.String(253), nullable=False),
        sa.Column("hostname_generated", sa.Boolean(), nullable=False),
        sa.Column("prefix", sa.String(200), nullable=False),
        sa.Column("methods", sa.String(80), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("strip_prefix", sa.Boolean(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column("preserve_host", sa.Boolean(), nullable=False),
        sa.Column("require_api_key", sa.Boolean(), nullable=False),
        sa.Column("rate_limit", sa.Float(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_gateway_routes_user_name"),
        sa.UniqueConstraint("hostname", "prefix", "methods", name="uq_gateway_routes_host_prefix"),
    )
    op.create_index("ix_gateway_routes_user_id", "gateway_routes", ["user_id"])
    op.create_index("ix_gateway_routes_hostname", "gateway_routes", ["hostname"])
    op.create_table(
        "gateway_hostnames",
        sa.Column("hostname", sa.String(253), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("resource_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_gateway_hostnames_user_id", "gateway_hostnames", ["user_id"])
    op.create_table(
        "gateway_route_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("route_id", sa.String(36), sa.ForeignKey("gateway_routes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_gateway_route_keys_route_id", "gateway_route_keys", ["route_id"])
    op.create_index("ix_gateway_route_keys_user_id", "gateway_route_keys", ["user_id"])


def downgrade() -> None:
    op.drop_table("gateway_route_keys")
    op.drop_table("gateway_hostnames")
    op.drop_table("gateway_routes")

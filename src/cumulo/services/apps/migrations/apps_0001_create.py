"""apps

Revision ID: apps_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "apps_0001"
down_revision = None
branch_labels = ("apps",)
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("branch", sa.String(100), nullable=False),
        sa.Column("git_url", sa.String(2048), nullable=True),
        sa.Column("app_type", sa.String(16), nullable=True),
        sa.Column("type_override", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("hostname", sa.String(253), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("release_count", sa.Integer(), nullable=False),
        sa.Column("build_count", sa.Integer(), nullable=False),
        sa.Column("current_release_id", sa.String(36), nullable=True),
        sa.Column("upstreams", sa.String(1000), nullable=False),
        sa.Column("config_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("deploy_token", sa.String(36), nullable=True),
        sa.Column("deploy_started_at", TS, nullable=True),
        sa.Column("deployed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_apps_user_name"),
    )
    op.create_index("ix_apps_user_id", "apps", ["user_id"])
    op.create_table(
        "app_builds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("git_rev", sa.String(64), nullable=True),
        sa.Column("app_type", sa.String(16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_app_builds_app_id", "app_builds", ["app_id"])
    op.create_index("ix_app_builds_user_id", "app_builds", ["user_id"])
    op.create_table(
        "app_releases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.String(36), nullable=True),
        sa.Column("image", sa.String(255), nullable=False),
        sa.Column("git_rev", sa.String(64), nullable=True),
        sa.Column("process", sa.String(8), nullable=False),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("release_command", sa.Text(), nullable=True),
        sa.Column("config_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("app_id", "version", name="uq_app_releases_version"),
    )
    op.create_index("ix_app_releases_app_id", "app_releases", ["app_id"])
    op.create_index("ix_app_releases_user_id", "app_releases", ["user_id"])
    op.create_table(
        "app_domains",
        sa.Column("hostname", sa.String(253), primary_key=True),
        sa.Column("app_id", sa.String(36), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_app_domains_app_id", "app_domains", ["app_id"])
    op.create_index("ix_app_domains_user_id", "app_domains", ["user_id"])


def downgrade() -> None:
    op.drop_table("app_domains")
    op.drop_table("app_releases")
    op.drop_table("app_builds")
    op.drop_table("apps")

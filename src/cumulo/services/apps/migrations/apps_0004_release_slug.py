"""app_releases.slug: the SHA-256 of the tar of the app's files a release adds to each of its
containers, on its runtime image (no image build per push); NULL for Dockerfile apps, whose image
holds everything

Revision ID: apps_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "apps_0004"
down_revision = "apps_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_releases", sa.Column("slug", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("app_releases", "slug")

"""apps.git_secret: the name of the owner's secret (Secrets Manager) a private git_url is cloned with

Revision ID: apps_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "apps_0002"
down_revision = "apps_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("apps", sa.Column("git_secret", sa.String(128), nullable=True))


def downgrade() -> None:
    op.drop_column("apps", "git_secret")

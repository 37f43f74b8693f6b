"""apps.state_changed_at / state_changed_key: the exact moment an app's status, replicas or memory last
changed, for billing (issue 19)

Revision ID: apps_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "apps_0003"
down_revision = "apps_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("apps", sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("apps", sa.Column("state_changed_key", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("state_changed_key")
        batch.drop_column("state_changed_at")

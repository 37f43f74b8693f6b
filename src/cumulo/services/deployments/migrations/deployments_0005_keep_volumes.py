"""deployments: keep_volumes (a deletion that leaves the slot volumes to their owner)

Revision ID: deployments_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "deployments_0005"
down_revision = "deployments_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("keep_volumes", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("keep_volumes")

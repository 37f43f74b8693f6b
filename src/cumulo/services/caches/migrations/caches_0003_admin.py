"""caches: Cumulo's own management ACL user per cache (its password sealed under the master key)

Revision ID: caches_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "caches_0003"
down_revision = "caches_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("caches", sa.Column("admin_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("caches", "admin_sealed")

"""The prices of apps (their running containers: per container-hour, vCPU-hour, GB-hour), for a database whose price
table was written before they were metered (a new one has them from billing_0001)

Revision ID: billing_0008
"""

from alembic import op

revision = "billing_0008"
down_revision = "billing_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0008, add_prices

    add_prices(op.get_bind(), ADDED_0008)


def downgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0008, remove_prices

    remove_prices(op.get_bind(), ADDED_0008)

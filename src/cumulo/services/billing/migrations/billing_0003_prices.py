"""The prices of managed databases, caches, load balancers and functions, for a database whose
price table was written before they were metered (a new one has them from billing_0001)

Revision ID: billing_0003
"""

from alembic import op

revision = "billing_0003"
down_revision = "billing_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0003, add_prices

    add_prices(op.get_bind(), ADDED_0003)


def downgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0003, remove_prices

    remove_prices(op.get_bind(), ADDED_0003)

"""The price of managed databases' storage (GiB-month while the database exists), for a database
whose price table was written before it was metered (a new one has it from billing_0001)

Revision ID: billing_0006
"""

from alembic import op

revision = "billing_0006"
down_revision = "billing_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0006, add_prices

    add_prices(op.get_bind(), ADDED_0006)


def downgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0006, remove_prices

    remove_prices(op.get_bind(), ADDED_0006)

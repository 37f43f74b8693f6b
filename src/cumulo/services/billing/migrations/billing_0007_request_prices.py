"""The prices of S3 requests (per 1,000, PUT/COPY/POST/LIST and GET/HEAD), for a database whose price
table was written before they were metered (a new one has them from billing_0001)

Revision ID: billing_0007
"""

from alembic import op

revision = "billing_0007"
down_revision = "billing_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0007, add_prices

    add_prices(op.get_bind(), ADDED_0007)


def downgrade() -> None:
    from cumulo.services.billing.catalog import ADDED_0007, remove_prices

    remove_prices(op.get_bind(), ADDED_0007)

"""the runtime's tables: outbox order and cursors, leases

Revision ID: events_0002

The audit table is also the platform's transactional outbox (``cumulo.runtime.outbox``): a
consumer reads the rows after its stored cursor. SQLite commits one transaction at a time, so
``rowid`` is already the commit order. PostgreSQL commits in parallel and assigns sequence
numbers before commit, so each row also records its transaction id (``txid``, ``xid8``): the
outbox reads only rows whose transaction ended before every transaction still running began, in
(txid, seq) order, and never skips a row that commits late.

Leases (``cumulo.db.locks.take_lease``) live here too: the events branch is the lowest one and
these are the kernel's own two small tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "events_0002"
down_revision = "events_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE events ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY")
        op.execute("ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()")
        op.create_index("ix_events_outbox", "events", ["txid", "seq"])
    op.create_table(
        "outbox_cursors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("txid", sa.BigInteger(), nullable=False),  # 0 on SQLite
        sa.Column("seq", sa.BigInteger(), nullable=False),  # rowid on SQLite
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("outbox_cursors")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_events_outbox", "events")
        op.execute("ALTER TABLE events DROP COLUMN txid")
        op.execute("ALTER TABLE events DROP COLUMN seq")

"""function_invocations (ended_at): the billing meter reads the invocations that ended since its last
pass (``hooks.consumed``, a bounded ``ended_at`` window), not every retained invocation each pass

Revision ID: functions_0002
"""

from alembic import op

revision = "functions_0002"
down_revision = "functions_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_function_invocations_ended", "function_invocations", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_function_invocations_ended", table_name="function_invocations")

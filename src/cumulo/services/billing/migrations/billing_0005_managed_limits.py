"""The seed plans limit managed databases, caches and load balancers too (a plan an administrator
made, or a limit already set, is left as it is)

Revision ID: billing_0005
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "billing_0005"
down_revision = "billing_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from cumulo.services.billing.catalog import MANAGED, PLANS

    bind = op.get_bind()
    for plan_id, limits in bind.execute(sa.text("SELECT id, limits FROM billing_plans")).all():
        if plan_id not in PLANS:
            continue
        current = json.loads(limits) if isinstance(limits, str) else dict(limits or {})
        seed = PLANS[plan_id][4]
        missing = {kind: seed[kind] for kind in MANAGED if kind not in current}
        if missing:
            bind.execute(sa.text("UPDATE billing_plans SET limits = :limits WHERE id = :id")
                         .bindparams(sa.bindparam("limits", type_=sa.JSON)), {"limits": {**current, **missing},
                                                                             "id": plan_id})


def downgrade() -> None:
    pass  # the limits stay (a plan's limits are the administrator's to edit)

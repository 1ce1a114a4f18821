"""Pace budgets: recent sends per Teams thread, channel and tenant, shared by replicas."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "pace_budgets",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("stamps", sa.Text(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("pace_budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pace_budgets_last_at"), ["last_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pace_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pace_budgets_last_at"))

    op.drop_table("pace_budgets")

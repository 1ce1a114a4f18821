"""Teams presence of agents (PRESENCE_SYNC=graph) and a department's own time zone."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("graph_presence", sa.String(length=32), nullable=True))

    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("time_zone")

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("graph_presence")

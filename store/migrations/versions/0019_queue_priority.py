"""A department's queue priority: chats with a tag, or of returning customers, first."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue_priority_tag", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "queue_returning", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("queue_returning")
        batch_op.drop_column("queue_priority_tag")

"""Replies by mail and department names per language: the last agent's line mailed to a
customer who had left (so a mail never repeats a line), and a department's name in each
customer language (texts to customers no longer put "Support" in a Vietnamese sentence).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailed_through", sa.Integer(), nullable=True))
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("names", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("names")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("mailed_through")

"""Chats without a version: the column grew with every change of a chat for the card
buttons that carried it, and buttons no longer do (a press decides on the chat as it is
now). The console's live list, its last reader, tells changes from the open chats' seats
and tags instead.

The downgrade gives every chat version 1 again, as a new chat had.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("version")


def downgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
    # The revisions before this one had no default: the code wrote the version itself.
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.alter_column("version", existing_type=sa.Integer(), server_default=None)

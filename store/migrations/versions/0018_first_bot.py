"""A company bot answers first: a department's switch, a chat's bot context, and the
chats' conversations with the bot."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_bot", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bot_context", sa.JSON(), nullable=True))
    op.create_table(
        "first_bot_chats",
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=256), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("watermark", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"]),
        sa.PrimaryKeyConstraint("chat_id"),
    )


def downgrade() -> None:
    op.drop_table("first_bot_chats")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("bot_context")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("first_bot")

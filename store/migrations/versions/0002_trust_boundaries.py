"""Trust boundaries: chats' public references, held chats, intake-limit and purge indexes.

Existing chats get a random public reference each (cards and links name chats by it).
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.create_index("ix_chats_created", ["created_at"], unique=False)
    chats = sa.table("chats", sa.column("id", sa.Integer), sa.column("public_id", sa.String))
    connection = op.get_bind()
    for (chat_id,) in connection.execute(sa.select(chats.c.id)).all():
        connection.execute(
            chats.update().where(chats.c.id == chat_id).values(public_id=secrets.token_urlsafe(16))
        )
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_chats_public_id", ["public_id"])

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_customers_conversation_key"), ["conversation_key"], unique=False
        )

    with op.batch_alter_table("inbound_activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_activities_received_at"), ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_activities_received_at"))

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_conversation_key"))
        batch_op.drop_column("conversation_key")

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_constraint("uq_chats_public_id", type_="unique")
        batch_op.drop_index("ix_chats_created")
        batch_op.drop_column("held")
        batch_op.drop_column("public_id")

"""Automatic assignment: a department's mode, a chat's pending offer and queue notices,
and when a member was last offered a chat."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "assignment",
                sa.String(length=16),
                server_default=sa.text("'broadcast'"),
                nullable=False,
            )
        )
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offered_to_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("passed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("queue_told", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("queue_told_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_chats_offered_to_id_agents", "agents", ["offered_to_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_chats_passed_by_id_agents", "agents", ["passed_by_id"], ["id"]
        )
        batch_op.create_index("ix_chats_offer_expires_at", ["offer_expires_at"], unique=False)
    with op.batch_alter_table("department_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_offered_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("department_members", schema=None) as batch_op:
        batch_op.drop_column("last_offered_at")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index("ix_chats_offer_expires_at")
        batch_op.drop_constraint("fk_chats_passed_by_id_agents", type_="foreignkey")
        batch_op.drop_constraint("fk_chats_offered_to_id_agents", type_="foreignkey")
        batch_op.drop_column("queue_told_at")
        batch_op.drop_column("queue_told")
        batch_op.drop_column("passed_by_id")
        batch_op.drop_column("offer_expires_at")
        batch_op.drop_column("offered_to_id")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("assignment")

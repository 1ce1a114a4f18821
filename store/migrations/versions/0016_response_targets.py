"""Response-time targets: a department's targets, a chat's current wait and its two
timers, and the waits kept for the reports."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_response_target", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_response_target", sa.Integer(), nullable=True))
    with op.batch_alter_table("chats", schema=None) as batch_op:
        for column in ("target_since", "target_due_at", "target_remind_at", "target_breach_at"):
            batch_op.add_column(sa.Column(column, _WHEN, nullable=True))
        for name, column in (
            ("ix_chats_target_remind", "target_remind_at"),
            ("ix_chats_target_breach", "target_breach_at"),
        ):
            where = sa.text(f"{column} IS NOT NULL")
            batch_op.create_index(
                name, [column], unique=False, sqlite_where=where, postgresql_where=where
            )
    op.create_table(
        "response_waits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("since", _WHEN, nullable=False),
        sa.Column("due_at", _WHEN, nullable=False),
        sa.Column("answered_at", _WHEN, nullable=True),
        sa.Column("breached_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"]),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id", "since"),
    )
    op.create_index(
        "ix_response_waits_department_since", "response_waits", ["department_id", "since"]
    )


def downgrade() -> None:
    op.drop_index("ix_response_waits_department_since", table_name="response_waits")
    op.drop_table("response_waits")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index("ix_chats_target_breach")
        batch_op.drop_index("ix_chats_target_remind")
        for column in ("target_breach_at", "target_remind_at", "target_due_at", "target_since"):
            batch_op.drop_column(column)
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("next_response_target")
        batch_op.drop_column("first_response_target")

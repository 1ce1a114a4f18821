"""Columns written and never read, dropped: an agent's ``availability_at``, an offer's
``decided_at``, a canned answer's ``created_by_id``, a participant's ``joined_at`` and
business hours' ``updated_at``. Who changed a department's settings, and when, is the
audit's (``audit_entries``); the transcript keeps who joined a chat and when.

The downgrade adds them back, filled with the migration's time where they were required.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"

# table -> (column, required)
DROPPED = {
    "agents": ("availability_at", False),
    "offers": ("decided_at", False),
    "participants": ("joined_at", True),
    "department_hours": ("updated_at", True),
}


def upgrade() -> None:
    for table, (column, _) in DROPPED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
    with op.batch_alter_table("canned_answers", schema=None) as batch_op:
        batch_op.drop_column("created_by_id")


def downgrade() -> None:
    with op.batch_alter_table("canned_answers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_canned_answers_created_by_id_agents", "agents", ["created_by_id"], ["id"]
        )
    for table, (column, required) in DROPPED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.DateTime(timezone=True), nullable=True))
        if required:
            op.execute(sa.text(f"UPDATE {table} SET {column} = CURRENT_TIMESTAMP"))
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.alter_column(
                    column, existing_type=sa.DateTime(timezone=True), nullable=False
                )

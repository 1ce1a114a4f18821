"""Daily roll-ups of the report figures: one row per department and settled UTC day, so
a year's report reads at most 366 rows instead of every chat of the year; an index of
closed chats by close time for the days that may still change."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"


def upgrade() -> None:
    op.create_table(
        "report_days",
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name="fk_report_days_department_id_departments"
        ),
        sa.PrimaryKeyConstraint("department_id", "day", name="pk_report_days"),
    )
    # The roll-ups' horizon: the oldest chat closed within the rating window.
    op.create_index(
        "ix_chats_closed_at",
        "chats",
        ["closed_at"],
        unique=False,
        sqlite_where=sa.text("state = 'closed'"),
        postgresql_where=sa.text("state = 'closed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_chats_closed_at", table_name="chats")
    op.drop_table("report_days")

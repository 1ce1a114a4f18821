"""Customer contacts: normalised e-mail addresses and phone numbers with how each is known
(given, recorded by an agent, verified by the channel), and the matches agents unlinked.

The downgrade drops both tables (matches are then no longer shown; the pre-chat contact
on ``customers`` stays).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "customer_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("trust", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "kind", "value"),
    )
    op.create_index("ix_customer_contacts_value", "customer_contacts", ["kind", "value"])
    op.create_table(
        "customer_unlinks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["other_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "other_id"),
    )


def downgrade() -> None:
    op.drop_table("customer_unlinks")
    op.drop_index("ix_customer_contacts_value", table_name="customer_contacts")
    op.drop_table("customer_contacts")

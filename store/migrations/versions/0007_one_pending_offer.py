"""One pending transfer per chat, one pending invitation per chat and colleague.

Before these indexes, two replicas could both insert a pending transfer of one chat
on PostgreSQL. Such doubles are settled first: the oldest stays pending (it came
first and would have refused the others), the later ones are withdrawn at the time
they were made.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

_TRANSFER = "state = 'pending' AND kind = 'transfer'"
_INVITE = "state = 'pending' AND kind = 'invite'"


def _withdraw_doubles(kind: str, columns: str) -> None:
    op.execute(
        sa.text(
            "UPDATE offers SET state = 'withdrawn', decided_at = created_at"
            f" WHERE state = 'pending' AND kind = '{kind}' AND id NOT IN"
            f" (SELECT MIN(id) FROM offers WHERE state = 'pending' AND kind = '{kind}'"
            f" GROUP BY {columns})"
        )
    )


def upgrade() -> None:
    _withdraw_doubles("transfer", "chat_id")
    _withdraw_doubles("invite", "chat_id, to_agent_id")
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(
            "uq_offers_pending_invite",
            ["chat_id", "to_agent_id"],
            unique=True,
            sqlite_where=sa.text(_INVITE),
            postgresql_where=sa.text(_INVITE),
        )
        batch_op.create_index(
            "uq_offers_pending_transfer",
            ["chat_id"],
            unique=True,
            sqlite_where=sa.text(_TRANSFER),
            postgresql_where=sa.text(_TRANSFER),
        )


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("uq_offers_pending_transfer")
        batch_op.drop_index("uq_offers_pending_invite")

"""PostgreSQL only: the outbox's notification is decided at commit, not at INSERT.

A unit of work writes a row unleased when its lane was busy, then (before it commits)
marks what its replica delivered and leases the lane's head: by commit the row is
usually leased to the replica that wrote it, which hands it to its own dispatcher. The
statement trigger of 0014 announced it anyway, at INSERT, and every replica (the writer
too) spent a transaction trying to lease a row already taken. A deferred constraint
trigger looks at each row when the transaction commits and names its lane only if the
row is still pending and nobody leased it (notifications of one transaction with the
same lane are delivered once).
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0015"

_UP = (
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    """CREATE OR REPLACE FUNCTION outbox_notify_at_commit() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM outbox WHERE id = NEW.id AND state = 'pending'
                   AND lease_owner IS NULL) THEN
            PERFORM pg_notify('outbox', NEW.lane);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "CREATE CONSTRAINT TRIGGER outbox_notify_at_commit AFTER INSERT ON outbox "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION outbox_notify_at_commit()",
)

_DOWN = (
    "DROP TRIGGER IF EXISTS outbox_notify_at_commit ON outbox",
    "DROP FUNCTION IF EXISTS outbox_notify_at_commit()",
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _DOWN:
            op.execute(statement)

"""A year of history at the speed of an empty database: indexes for the console's reads
and the timers, word search on both engines, and a wake-up for other replicas.

- chats: ``(department_id, created_at)`` for reports; a partial index of closed chats by
  close time for the history; the unanswered-chat timer's partial index of waiting chats
  (closed chats that keep ``announce_at`` are no longer in it).
- outbox: one partial index per reader (pending rows for the sweep, delivered and failed
  rows for the purge) instead of ``(state, next_attempt_at)``.
- Word search: PostgreSQL's ``pg_trgm`` GIN indexes on transcript lines and customers'
  names; on SQLite an FTS5 trigram table of the lines kept by triggers (``store.search``).
- PostgreSQL only: a statement trigger on the outbox that NOTIFYs ``outbox`` when rows
  are added that no replica leased (a busy lane another replica is sending), and
  triggers that NOTIFY ``chats`` when what the console's live list shows changes: the
  replicas listen (``bot/wakeups.py``) instead of sweeping every half second.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

_PARTIAL = (
    ("ix_chats_closed", "chats", ["department_id", "closed_at", "id"], "state = 'closed'"),
    ("ix_chats_announce_waiting", "chats", ["announce_at"], "state = 'waiting'"),
    ("ix_outbox_pending", "outbox", ["next_attempt_at"], "state = 'pending'"),
    ("ix_outbox_delivered", "outbox", ["delivered_at"], "state = 'delivered'"),
    ("ix_outbox_failed", "outbox", ["created_at"], "state = 'failed'"),
)

_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE messages_search USING fts5("
    "text, content='messages', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_search(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_search(messages_search, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER messages_search_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_search(messages_search, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO messages_search(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO messages_search(messages_search) VALUES ('rebuild')",
)

_POSTGRES_SEARCH = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_messages_text_trgm ON messages USING gin (text gin_trgm_ops)",
    "CREATE INDEX ix_customers_name_trgm ON customers USING gin (name gin_trgm_ops)",
    # Only rows nobody leased need another replica's attention: a replica hands the rows
    # it leased itself to its own dispatcher after commit.
    # The payload names the lanes (one a line; empty when too long for a notification:
    # then the listener sweeps).
    """CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
    DECLARE
        lanes text;
    BEGIN
        SELECT string_agg(DISTINCT lane, E'\\n') INTO lanes FROM added
        WHERE lease_owner IS NULL;
        IF lanes IS NOT NULL THEN
            IF octet_length(lanes) > 7900 THEN
                lanes := '';
            END IF;
            PERFORM pg_notify('outbox', lanes);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()",
    # What the console's live list shows changed (notifications of one transaction are
    # delivered once, at commit).
    """CREATE OR REPLACE FUNCTION chats_notify() RETURNS trigger AS $$
    BEGIN
        PERFORM pg_notify('chats', '');
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER chats_notify AFTER INSERT OR DELETE OR UPDATE OF "
    "state, owner_id, department_id, accepted_at, thread_id ON chats "
    "FOR EACH ROW EXECUTE FUNCTION chats_notify()",
    "CREATE TRIGGER participants_notify AFTER INSERT OR UPDATE OR DELETE ON participants "
    "FOR EACH STATEMENT EXECUTE FUNCTION chats_notify()",
    "CREATE TRIGGER chat_tags_notify AFTER INSERT OR UPDATE OR DELETE ON chat_tags "
    "FOR EACH STATEMENT EXECUTE FUNCTION chats_notify()",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_index("ix_chats_department_created", "chats", ["department_id", "created_at"])
    for name, table, columns, where in _PARTIAL:
        op.create_index(
            name,
            table,
            columns,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )
    op.drop_index("ix_chats_announce_at", table_name="chats")
    op.drop_index("ix_outbox_due", table_name="outbox")
    for statement in _POSTGRES_SEARCH if postgres else _SQLITE_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for trigger, table in (
            ("chat_tags_notify", "chat_tags"),
            ("participants_notify", "participants"),
            ("chats_notify", "chats"),
            ("outbox_notify", "outbox"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS chats_notify()")
        op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
        op.execute("DROP INDEX IF EXISTS ix_customers_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_messages_text_trgm")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS messages_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS messages_search")
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_chats_announce_at", "chats", ["announce_at"])
    for name, table, _, _ in reversed(_PARTIAL):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_chats_department_created", table_name="chats")

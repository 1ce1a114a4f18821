"""Schema migrations: from nothing to head on both engines, no drift from the models, and
upgrades that keep the data (from the first revision, and from a database made by
``create_all`` before migrations existed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestServer
from alembic import command
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import create_app
from bot.settings import Settings
from store import migrate
from store.engine import create_engine
from tests.conftest import drop_postgres, scratch_postgres

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

# Rows as the first revision's tables hold them: the data an upgrade must keep.
ROWS: dict[str, list[dict[str, Any]]] = {
    "departments": [
        {
            "id": 1,
            "key": "support",
            "name": "Support",
            "team_id": "team-1",
            "channel_id": "19:room@thread.tacv2",
            "room_reference": {"serviceUrl": "https://smba.example/apac/"},
            "created_at": NOW,
        }
    ],
    "customers": [
        {
            "id": 1,
            "channel_id": "webchat",
            "user_id": "user-1",
            "name": "Lan",
            "locale": "vi-VN",
            "reference": {"conversation": {"id": "conv-1"}},
            "created_at": NOW,
        }
    ],
    "chats": [
        {
            "id": 1,
            "customer_id": 1,
            "department_id": 1,
            "state": "closed",
            "version": 3,
            "created_at": NOW,
            "closed_at": NOW,
        }
    ],
    "messages": [
        {
            "id": 1,
            "chat_id": 1,
            "kind": "incoming",
            "author": "Lan",
            "text": "Xin chào, tôi cần giúp đỡ",
            "source_key": "webchat|conv-1|a-1",
            "created_at": NOW,
        }
    ],
}
# Columns of ROWS that a later revision removes on purpose (0008: nothing read it).
DROPPED = {("chats", "version")}


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of its own (PostgreSQL: ``<test db>_migrations``)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/migrations.db"
    else:
        url = await scratch_postgres("migrations")
    engine = create_engine(url)
    yield engine
    await engine.dispose()
    if request.param == "postgresql":
        await drop_postgres(url)


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def _insert(engine: AsyncEngine) -> None:
    """Write ROWS through the tables as they are in the database (not today's models)."""
    async with engine.begin() as connection:
        tables = MetaData()
        await connection.run_sync(tables.reflect)
        for name, rows in ROWS.items():
            await connection.execute(tables.tables[name].insert(), rows)


async def _assert_kept(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = MetaData()
        await connection.run_sync(tables.reflect)
        for name, rows in ROWS.items():
            table = tables.tables[name]
            found = (await connection.execute(select(table).order_by(table.c.id))).mappings()
            for expected, row in zip(rows, found, strict=True):
                for column, value in expected.items():
                    if (name, column) in DROPPED and column not in table.c:
                        continue
                    if isinstance(value, datetime):
                        stored = row[column]
                        stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
                        assert stored == value, (name, column)
                    else:
                        assert row[column] == value, (name, column)


async def test_empty_database_to_head_has_the_models_schema(engine: AsyncEngine) -> None:
    assert (await migrate.status(engine)).current is None
    found = await migrate.upgrade(engine)
    assert found.up_to_date and found.current == migrate.head()
    # `alembic check`: nothing the autogenerator would write for the models.
    assert await migrate.differences(engine) == []
    # Upgrading again changes nothing; downgrading to nothing leaves only the version table.
    assert (await migrate.upgrade(engine)).current == migrate.head()
    await migrate.in_migration(engine, lambda connection: _downgrade(connection, "base"))
    assert await _tables(engine) <= {migrate.VERSION_TABLE}
    assert (await migrate.upgrade(engine)).up_to_date


def _downgrade(connection: Any, revision: str) -> None:
    config = migrate.alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


async def test_upgrade_from_the_first_revision_keeps_the_data(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine, migrate.BASELINE)
    await _insert(engine)
    found = await migrate.upgrade(engine)
    assert found.up_to_date
    await _assert_kept(engine)
    assert await migrate.differences(engine) == []


async def test_a_downgrade_below_0008_gives_chats_a_version_again(engine: AsyncEngine) -> None:
    """The code of 0007 writes a version with every change: each chat has one again (1),
    its other data kept, and that code's schema exactly (no default for the column)."""
    await migrate.upgrade(engine, migrate.BASELINE)
    await _insert(engine)
    await migrate.upgrade(engine)
    await migrate.in_migration(engine, lambda connection: _downgrade(connection, "0007"))
    async with engine.connect() as connection:
        chats = (await connection.execute(text("SELECT id, state, version FROM chats"))).all()
        columns = await connection.run_sync(lambda c: inspect(c).get_columns("chats"))
    assert [tuple(chat) for chat in chats] == [(1, "closed", 1)]
    version = next(column for column in columns if column["name"] == "version")
    assert not version["nullable"] and version["default"] is None


async def test_a_database_made_before_migrations_is_adopted_with_its_data(
    engine: AsyncEngine,
) -> None:
    """Tables from ``create_all`` and no version table: stamped as the baseline, upgraded."""
    await migrate.upgrade(engine, migrate.BASELINE)
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
    await _insert(engine)
    assert (await migrate.status(engine)).current is None
    assert (await migrate.prepare(engine, auto_upgrade=True)).up_to_date
    await _assert_kept(engine)


async def test_the_server_refuses_a_database_behind_the_code(tmp_path: Path) -> None:
    """Without DB_AUTO_UPGRADE the server does not start, and says which command to run."""
    url = f"sqlite+aiosqlite:///{tmp_path}/behind.db"
    server = TestServer(create_app(Settings(database_url=url, db_auto_upgrade=False)))
    with pytest.raises(migrate.SchemaBehind, match="support-bridge db upgrade"):
        await server.start_server()
    await server.close()
    # The default for SQLite upgrades by itself.
    server = TestServer(create_app(Settings(database_url=url)))
    await server.start_server()
    await server.close()
    engine = create_engine(url)
    assert (await migrate.status(engine)).up_to_date
    await engine.dispose()


async def test_a_sqlite_revision_may_rebuild_a_table_that_others_point_at(
    tmp_path: Path,
) -> None:
    """What a later revision does to change a column on SQLite: copy ``chats`` into a new
    table and drop the old one, while ``messages`` point at it. The rows stay."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/rebuild.db")
    await migrate.upgrade(engine, migrate.BASELINE)
    await _insert(engine)

    def rebuild(connection: Any) -> None:
        operations = Operations(MigrationContext.configure(connection))
        with operations.batch_alter_table("chats", recreate="always") as batch:
            batch.alter_column("card_activity_id", type_=sa.String(300))

    await migrate.in_migration(engine, rebuild)
    await _assert_kept(engine)
    async with engine.connect() as connection:
        assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    await engine.dispose()


async def test_the_write_only_columns_come_back_on_a_downgrade(engine: AsyncEngine) -> None:
    """0011 drops five columns nobody read; below it they are back, the required ones
    filled, the rows kept."""
    from alembic.script import ScriptDirectory

    await migrate.upgrade(engine, migrate.BASELINE)
    await _insert(engine)
    await migrate.upgrade(engine)
    below = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0011")
    await migrate.in_migration(engine, lambda c: _downgrade(c, str(below.down_revision)))
    dropped = {
        "agents": "availability_at",
        "offers": "decided_at",
        "canned_answers": "created_by_id",
        "participants": "joined_at",
        "department_hours": "updated_at",
    }
    async with engine.connect() as connection:
        columns = await connection.run_sync(
            lambda c: {t: {k["name"] for k in inspect(c).get_columns(t)} for t in dropped}
        )
    assert all(column in columns[table] for table, column in dropped.items())
    await migrate.upgrade(engine)
    await _assert_kept(engine)
    assert await migrate.differences(engine) == []

"""Schema migrations (Alembic), run on the bridge's own async engine.

The scripts ship inside the package (``store/migrations``), so an installed wheel can
upgrade a database without the source tree. Every entry point here takes the
bridge's ``AsyncEngine`` and runs Alembic on one of its connections through
``run_sync``: the same code for aiosqlite and asyncpg.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.engine import READ_ONLY
from store.models import Base
from store.search import MESSAGES_SEARCH, outside_models

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# The revision whose schema equals what ``create_all`` made before migrations existed:
# a database from that time (tables, no version table) is stamped with it, then upgraded.
BASELINE = "0001"
# Any constant: replicas starting together on one PostgreSQL take turns migrating
# instead of racing on CREATE TABLE.
_SCHEMA_LOCK = 0x5B_C4_E3_A1


def alembic_config(database_url: str = "") -> Config:
    """Alembic's configuration without an ini file: the scripts inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if database_url:
        # ConfigParser treats % as interpolation; a password may contain one.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@cache
def head() -> str:
    """The revision the code expects (one head: revisions form a single line)."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None, "no migration scripts found"
    return found


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


class SchemaBehind(RuntimeError):
    """The database is not at the code's revision and the bridge may not upgrade it itself."""

    def __init__(self, found: SchemaStatus) -> None:
        where = f"revision {found.current}" if found.current else "no revision (empty)"
        if found.current and not known(found.current):
            where += ", which this version does not know (written by a newer version?)"
        super().__init__(
            f"The database is at {where}; this version needs revision {found.head}. "
            "Run `support-bridge db upgrade` with the same DATABASE_URL, "
            "or set DB_AUTO_UPGRADE=true to let the server upgrade it at start."
        )
        self.found = found


def known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown or ambiguous id
        return False


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def status(engine: AsyncEngine) -> SchemaStatus:
    """Which revision the database is at, and which one the code needs. Read as the
    store's reads are (on SQLite a deferred BEGIN): ``/readyz`` asks on every probe and
    must neither take nor wait for the writers' lock."""
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        current = await connection.run_sync(_current)
    return SchemaStatus(current=current, head=head())


def _created_before_migrations(connection: Connection) -> bool:
    tables = set(inspect(connection).get_table_names())
    return VERSION_TABLE not in tables and "chats" in tables


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if _created_before_migrations(connection):
        command.stamp(config, BASELINE)
    command.upgrade(config, revision)


async def _locked(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Switch SQLite's foreign key checks, on the driver's connection (outside a transaction,
    the only place where SQLite honours it)."""
    cursor = connection.connection.dbapi_connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def _sqlite_dangling(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")


async def in_migration(engine: AsyncEngine, work: Callable[[Connection], None]) -> None:
    """Run ``work`` as a migration: one transaction, PostgreSQL under the schema lock.

    On SQLite, altering a table means copying it and dropping the old one (Alembic's batch
    mode); with foreign keys checked, dropping ``chats`` would fail while ``messages``
    point at it. So checks are off during the migration, as SQLite's documentation on
    schema changes advises, and every reference is verified before the commit.
    """
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            await connection.run_sync(_sqlite_foreign_keys, False)
        try:
            async with connection.begin():
                await _locked(connection)
                await connection.run_sync(work)
                if sqlite:
                    await connection.run_sync(_sqlite_dangling)
        finally:
            if sqlite:
                await connection.run_sync(_sqlite_foreign_keys, True)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> SchemaStatus:
    """Bring the database to ``revision`` in one transaction (PostgreSQL: under a lock)."""
    await in_migration(engine, lambda connection: _upgrade(connection, revision))
    return await status(engine)


async def prepare(engine: AsyncEngine, auto_upgrade: bool) -> SchemaStatus:
    """At start: upgrade when allowed, else refuse a database not at the code's revision."""
    if auto_upgrade:
        return await upgrade(engine)
    found = await status(engine)
    if not found.up_to_date:
        raise SchemaBehind(found)
    return found


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": outside_models}
    )
    return list(compare_metadata(context, Base.metadata))


async def differences(engine: AsyncEngine) -> list[object]:
    """What the models have that the database lacks, or the reverse (``alembic check``)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_differences)


def _drop(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # The word search of migration 0011 (its triggers go with ``messages``).
        connection.execute(text(f"DROP TABLE IF EXISTS {MESSAGES_SEARCH}"))
    Base.metadata.drop_all(connection)
    connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))


async def drop_schema(engine: AsyncEngine) -> None:
    """Remove every table of the bridge and the version table (tests and bench start empty)."""
    async with engine.begin() as connection:
        await _locked(connection)
        await connection.run_sync(_drop)

"""The databases the bridge runs on: a fresh SQLite file per run, or the local PostgreSQL.

Every run starts from an empty schema so that its figures do not depend on what an earlier run
left behind (except the scale runs, which seed on purpose).
"""

from __future__ import annotations

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from store.migrate import drop_schema

CONNECT_TIMEOUT = 5.0
MAINTENANCE_DATABASE = "postgres"


def sqlite_url(directory: str, name: str) -> str:
    """A new SQLite file in the run's temporary folder."""
    return f"sqlite+aiosqlite:///{directory}/{name}.db"


def _connect_args(url: URL, database: str) -> dict[str, object]:
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username or "postgres",
        "password": url.password,
        "database": database,
        "timeout": CONNECT_TIMEOUT,
    }


async def ensure_database(database_url: str) -> None:
    """Create the bench's database if it is missing (via the maintenance database)."""
    url = make_url(database_url)
    name = url.database or "bench"
    connection = await asyncpg.connect(**_connect_args(url, MAINTENANCE_DATABASE))
    try:
        found = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not found:
            quoted = '"' + name.replace('"', '""') + '"'
            await connection.execute(f"CREATE DATABASE {quoted}")
    finally:
        await connection.close()


async def postgres_problem(database_url: str) -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can (the database then exists)."""
    try:
        await ensure_database(database_url)
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
    except (OSError, TimeoutError, asyncpg.PostgresError, SQLAlchemyError) as error:
        shown = make_url(database_url).render_as_string()
        return f"PostgreSQL at {shown} is not reachable: {error}"
    return None


async def reset_postgres(database_url: str) -> None:
    """Drop every table of the bridge (and the migrations' version) so the run starts clean."""
    engine = create_async_engine(database_url)
    try:
        await drop_schema(engine)
    finally:
        await engine.dispose()

"""Alembic's environment for the bridge: online migrations on an async engine.

Two ways in. The bridge (``support-bridge db upgrade``, or the server upgrading itself)
hands over a connection it already holds, in ``config.attributes["connection"]``, so
the migration runs inside its transaction and under its lock. The ``alembic`` command
of a developer (``alembic revision --autogenerate``, see the README, "Deploy")
passes none: then an engine is made from ``DATABASE_URL`` and driven with ``run_sync``,
which works for aiosqlite and asyncpg alike.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from store.models import Base, UTCDateTime
from store.search import outside_models

config = context.config
target_metadata = Base.metadata


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write the bridge's own UTC type as the plain column type it stores.

    A revision must not import the application's models: they change, and an old
    revision has to keep creating the schema of its day.
    """
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=render_item,
        # SQLite alters a table by copying it: later revisions use batch operations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=outside_models,
    )


def do_run_migrations(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def database_url() -> str:
    """For the ``alembic`` command: ``-x url=...``, else ``DATABASE_URL``, else the default."""
    from store.engine import DEFAULT_DATABASE_URL

    given = context.get_x_argument(as_dictionary=True).get("url")
    return given or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


async def run_async_migrations() -> None:
    from store.engine import create_engine

    engine = create_engine(database_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them on a database")

shared = config.attributes.get("connection")
if shared is not None:
    do_run_migrations(shared)
else:
    asyncio.run(run_async_migrations())

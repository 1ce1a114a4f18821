"""Engine and session factory for SQLite (embedded default) and PostgreSQL.

The schema comes from the migrations (``store/migrate.py``), never from ``create_all``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bridge.db"
# Execution option of a connection that only reads (SQLite: a deferred BEGIN).
READ_ONLY = "support_bridge_read_only"


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """Make SQLite behave under concurrent writers.

    Every writing transaction starts with ``BEGIN IMMEDIATE`` so that two writers queue
    on the busy timeout instead of one failing at once when it upgrades a read lock. A
    read-only unit (``StoreCore.reading``, marked with the ``READ_ONLY`` execution option)
    starts with a deferred ``BEGIN``: under WAL it reads a snapshot and never takes the
    write lock, so a console report of a year does not hold up a customer's message.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def create_engine(database_url: str) -> AsyncEngine:
    """Create the async engine; for a SQLite file, create its folder first."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Every use of a connection ends its transaction (a unit commits, a read's close
        # rolls back), so the pool's own rollback on return would be a wasted round trip to
        # the driver's thread for every unit.
        engine = create_async_engine(url, pool_size=8, max_overflow=0, pool_reset_on_return=None)
        _prepare_sqlite(engine)
        return engine
    # No JIT: PostgreSQL compiles a statement whose estimated cost passes
    # ``jit_above_cost`` (a month's CSV or a year's figures on a big database) and spends
    # tens of milliseconds on it to save a few; the bridge's statements are all short.
    # A random page costs 1.1, not 4: the bridge's tables and indexes are read from memory
    # (or SSD), and at 4 the planner hashes all 60,000 ratings of a year to join the few
    # hundred chats of a report's live days (10-20 ms a statement) where a probe of the
    # primary key per chat takes 2 ms.
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=False,
        connect_args={"server_settings": {"jit": "off", "random_page_cost": "1.1"}},
    )


def driver_statement(dialect: Dialect, statement: Executable) -> tuple[str, list[Any]]:
    """``statement`` as the driver itself takes it: its SQL in the dialect's placeholders
    and its parameters in their order, each through its type's bind processing (for a
    driver call SQLAlchemy does not wrap, such as asyncpg's ``copy_from_query``).

    Compiled once per shape, as SQLAlchemy keeps the statements it runs itself (by the
    statement's cache key, its values apart): compiling the CSV's statement costs more
    than PostgreSQL takes to run it on an empty database. A statement with a list of
    values (``IN``) is compiled each time: the list's length is not in its key."""
    key = statement._generate_cache_key()
    compiled = None if key is None else _COMPILED.get((dialect.name, key.key))
    if compiled is None:
        compiled = statement.compile(
            dialect=dialect, cache_key=key, compile_kwargs={"render_postcompile": True}
        )
        if key is not None and not any(bind.expanding for bind in compiled.binds.values()):
            if len(_COMPILED) >= _COMPILED_KEPT:
                del _COMPILED[next(iter(_COMPILED))]
            _COMPILED[(dialect.name, key.key)] = compiled
    values = compiled.construct_params(extracted_parameters=None if key is None else key.bindparams)
    processors = compiled._bind_processors
    args = [
        processors[name](values[name]) if name in processors else values[name]
        for name in compiled.positiontup or ()
    ]
    return str(compiled), args


# ``driver_statement``'s compiled statements by their shape, the oldest dropped first.
_COMPILED_KEPT = 64
_COMPILED: dict[tuple[str, Any], Any] = {}

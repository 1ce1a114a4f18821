"""``support-bridge``: one command for each thing an administrator does.

``run`` serves; ``teams-package`` writes the Teams app; ``db upgrade`` / ``db current``
migrate and show the schema; ``check-config`` checks every setting; ``settings-table``
prints the README's table of them. All read the same environment (and ``.env``) through
the same model (``bot/settings.py``) as the server, so what is checked is what will run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import load_dotenv

from bot import config_check, logs, teams_package, zalo_connect
from bot.settings import BadSettings, Settings, settings_table
from store import migrate
from store.engine import create_engine


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="support-bridge",
        description="Customer-support bridge on the Bot Framework: customers on any "
        "channel, agents in Microsoft Teams. Settings come from the environment and .env.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="run the server (PORT, default 3978)")
    package = commands.add_parser(
        "teams-package", help="write the Teams app package (manifest, texts, icons) as a zip"
    )
    package.add_argument("--out", type=Path, default=Path("support-bridge.zip"))
    database = commands.add_parser("db", help="schema migrations of DATABASE_URL")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="migrate the database to the code's revision")
    upgrade.add_argument("revision", nargs="?", default="head")
    db_commands.add_parser("current", help="show the database's revision and the code's")
    commands.add_parser("check-config", help="check every setting; exit 1 if one is bad")
    zalo = commands.add_parser("zalo", help="the Zalo Official Account channel")
    zalo_commands = zalo.add_subparsers(dest="zalo_command", required=True, metavar="ACTION")
    connect = zalo_commands.add_parser(
        "connect", help="authorize the bridge for the OA (PKCE) and store its first tokens"
    )
    connect.add_argument(
        "--redirect-uri", help="the callback address registered for the Zalo app (PUBLIC_URL)"
    )
    commands.add_parser("settings-table", help="print the settings as the README's table")
    return parser


async def _db(action: str, settings: Settings, revision: str = "head") -> int:
    engine = create_engine(settings.database_url)
    try:
        if action == "upgrade":
            found = await migrate.upgrade(engine, revision)
            print(f"database at revision {found.current} (code: {found.head})")
            return 0
        found = await migrate.status(engine)
    finally:
        await engine.dispose()
    print(f"database: {found.current or 'empty (no revision)'}")
    print(f"code:     {found.head}")
    if found.up_to_date:
        print("up to date")
        return 0
    print(migrate.SchemaBehind(found))
    return 1


def _teams_package(settings: Settings, out: Path) -> int:
    try:
        written = teams_package.write(settings, out)
    except teams_package.PackageRefused as refusal:
        print(f"cannot make the Teams package: {refusal}", file=sys.stderr)
        return 2
    print(f"wrote {written}: upload it in Teams (Apps > Manage your apps > Upload an app)")
    unknown = config_check.unknown_tenant(settings)
    if unknown is not None:
        print(f"warning: {unknown}", file=sys.stderr)
    return 0


def _check_config() -> int:
    load_dotenv()
    problems = asyncio.run(config_check.check_config(dict(os.environ)))
    for note in config_check.notes(dict(os.environ)):
        print(f"note {note}")
    for problem in problems:
        print(f"bad  {problem}")
    if problems:
        print(f"{len(problems)} setting(s) to fix")
        return 1
    print("configuration ok: the database answers and every setting is valid")
    return 0


def _zalo_connect(settings: Settings, redirect_uri: str) -> int:
    try:
        asyncio.run(zalo_connect.connect(settings, input, print, redirect_uri))
    except zalo_connect.ConnectFailed as failure:
        print(f"not connected: {failure}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "check-config":
        return _check_config()
    if arguments.command == "settings-table":
        print(settings_table(), end="")
        return 0
    try:
        settings = Settings.from_env()
    except BadSettings as refusal:
        for problem in refusal.problems:
            print(f"bad  {problem}", file=sys.stderr)
        return 2
    if arguments.command == "run":
        from app import main as serve

        serve(settings)
        return 0
    if arguments.command == "teams-package":
        return _teams_package(settings, arguments.out)
    if arguments.command == "zalo":
        return _zalo_connect(settings, arguments.redirect_uri or settings.public_url)
    logs.configure(settings.log_format, level=logging.WARNING)
    return asyncio.run(_db(arguments.db_command, settings, getattr(arguments, "revision", "head")))


if __name__ == "__main__":
    sys.exit(main())

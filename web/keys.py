"""Every piece of application state, as typed ``web.AppKey``s (no globals): the website's
and the console's here, the bridge's from ``bot/keys.py`` (re-exported, so the pages read
one module). ``bot/`` never imports ``web/``: the keys of what ``web/`` makes live here."""

from __future__ import annotations

import asyncio

import jinja2
from aiohttp import web

from bot.keys import (
    ADAPTER,
    BRIDGE,
    CHANGES,
    CLIENT_SESSION,
    CONNECTOR,
    DISPATCHER,
    ENGINE,
    LINKS,
    METRICS,
    SETTINGS,
    STORE,
)
from web.console.auth import ConsoleAuth
from web.directline import LocalDirectLine
from web.token import TokenService

__all__ = [
    "ADAPTER",
    "BRIDGE",
    "CHANGES",
    "CLIENT_SESSION",
    "CONNECTOR",
    "CONSOLE_AUTH",
    "CONSOLE_CLOSING",
    "CONSOLE_TEMPLATES",
    "DISPATCHER",
    "ENGINE",
    "LINKS",
    "LOCAL_DIRECT_LINE",
    "METRICS",
    "SETTINGS",
    "STORE",
    "TOKENS",
]

TOKENS = web.AppKey("tokens", TokenService)
LOCAL_DIRECT_LINE = web.AppKey("local_direct_line", LocalDirectLine)
CONSOLE_AUTH = web.AppKey("console_auth", ConsoleAuth)
CONSOLE_TEMPLATES = web.AppKey("console_templates", jinja2.Environment)
CONSOLE_CLOSING = web.AppKey("console_closing", asyncio.Event)

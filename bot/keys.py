"""Every piece of application state, as typed ``web.AppKey``s (no globals)."""

from __future__ import annotations

import asyncio

import jinja2
from aiohttp import ClientSession, web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.bridge import Bridge
from bot.delivery import Dispatcher
from bot.metrics import Metrics
from bot.sdk import BridgeAdapter, Connector
from bot.settings import Settings
from bot.transcript import TranscriptLinks
from bot.wakeups import Changes
from store import Store
from web.console.auth import ConsoleAuth
from web.directline import LocalDirectLine
from web.token import TokenService

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
STORE = web.AppKey("store", Store)
CLIENT_SESSION = web.AppKey("client_session", ClientSession)
ADAPTER = web.AppKey("adapter", BridgeAdapter)
CONNECTOR = web.AppKey("connector", Connector)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
LINKS = web.AppKey("links", TranscriptLinks)
BRIDGE = web.AppKey("bridge", Bridge)
METRICS = web.AppKey("metrics", Metrics)
TOKENS = web.AppKey("tokens", TokenService)
LOCAL_DIRECT_LINE = web.AppKey("local_direct_line", LocalDirectLine)
CONSOLE_AUTH = web.AppKey("console_auth", ConsoleAuth)
CONSOLE_TEMPLATES = web.AppKey("console_templates", jinja2.Environment)
CONSOLE_CLOSING = web.AppKey("console_closing", asyncio.Event)
# Set when what the console's live list shows may have changed (bot/wakeups.py).
CHANGES = web.AppKey("changes", Changes)

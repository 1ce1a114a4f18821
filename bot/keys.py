"""The bridge's application state, as typed ``web.AppKey``s (no globals); the website's
and the console's own are in ``web/keys.py``, which also re-exports these."""

from __future__ import annotations

from aiohttp import ClientSession, web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ai import Assistant
from bot.bridge import Bridge
from bot.channels import Channels
from bot.delivery import Dispatcher
from bot.firstbot import FirstBot
from bot.metrics import Metrics
from bot.sdk import BridgeAdapter, Connector
from bot.settings import Settings
from bot.transcript import TranscriptLinks
from bot.wakeups import Changes
from store import Store

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
STORE = web.AppKey("store", Store)
CLIENT_SESSION = web.AppKey("client_session", ClientSession)
ADAPTER = web.AppKey("adapter", BridgeAdapter)
CONNECTOR = web.AppKey("connector", Connector)
CHANNELS = web.AppKey("channels", Channels)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
LINKS = web.AppKey("links", TranscriptLinks)
BRIDGE = web.AppKey("bridge", Bridge)
METRICS = web.AppKey("metrics", Metrics)
# AI help for agents; None when no provider is configured (AI_BASE_URL empty).
ASSISTANT: web.AppKey[Assistant | None] = web.AppKey("assistant")
FIRST_BOT: web.AppKey[FirstBot | None] = web.AppKey("first_bot")
# Set when what the console's live list shows may have changed (bot/wakeups.py).
CHANGES = web.AppKey("changes", Changes)

"""Support Bridge: the aiohttp application (``python app.py`` runs it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from sqlalchemy import text

from bot import keys
from bot.bridge import Bridge, UnsupportedActivity
from bot.delivery import Dispatcher
from bot.sdk import AuthenticationFailed, BridgeAdapter, Connector
from bot.settings import Settings
from bot.transcript import TranscriptLinks, render
from dialogs.context import FlowContext
from dialogs.i18n import Texts, pick_language
from store.chats import Clock, Store, utc_now
from store.engine import create_engine, create_schema, create_sessionmaker

log = logging.getLogger("support_bridge")

ACTIVITY_TYPES = frozenset(
    {
        "message",
        "contactRelationUpdate",
        "conversationUpdate",
        "typing",
        "endOfConversation",
        "event",
        "invoke",
        "deleteUserData",
        "messageUpdate",
        "messageDelete",
        "installationUpdate",
        "messageReaction",
        "suggestion",
        "trace",
        "handoff",
    }
)


class BadActivity(web.HTTPBadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(text=json.dumps({"error": reason}), content_type="application/json")


def _refuse(cls: type[web.HTTPException], reason: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": reason}), content_type="application/json")


def validate_activity(body: Any, settings: Settings) -> dict[str, Any]:
    """Check the shape the bridge relies on; raise a 4xx with the reason otherwise."""
    if not isinstance(body, dict):
        raise BadActivity("the body must be a JSON object (an activity)")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadActivity("'type' is missing")
    if kind not in ACTIVITY_TYPES:
        raise BadActivity(f"unknown activity type {kind!r}")
    for field in ("from", "conversation", "recipient"):
        value = body.get(field)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            raise BadActivity(f"'{field}.id' is missing")
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url:
        raise BadActivity("'serviceUrl' is missing")
    parts = urlsplit(service_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadActivity("'serviceUrl' is not an http(s) URL")
    if settings.local_mode and parts.hostname.lower() not in settings.allowed_service_hosts:
        raise _refuse(web.HTTPForbidden, "serviceUrl host is not allowed in local mode")
    for field in ("text", "channelId", "id", "locale", "name"):
        if body.get(field) is not None and not isinstance(body[field], str):
            raise BadActivity(f"'{field}' must be a string")
    for field in ("entities", "attachments", "membersAdded", "membersRemoved"):
        if body.get(field) is not None and not isinstance(body[field], list):
            raise BadActivity(f"'{field}' must be a list")
    if body.get("channelData") is not None and not isinstance(body["channelData"], dict):
        raise BadActivity("'channelData' must be an object")
    return body


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /api/messages: validate, authenticate, run the turn, answer at once."""
    settings = request.app[keys.SETTINGS]
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        raise _refuse(web.HTTPRequestEntityTooLarge, "activity too large")
    if "json" not in request.content_type:
        raise _refuse(web.HTTPUnsupportedMediaType, "send the activity as application/json")
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise _refuse(web.HTTPRequestEntityTooLarge, "activity too large") from None
    except (ValueError, UnicodeDecodeError):
        raise BadActivity("the body is not valid JSON") from None
    activity = validate_activity(body, settings)
    bridge = request.app[keys.BRIDGE]
    try:
        answer = await request.app[keys.ADAPTER].handle(
            request.headers.get("Authorization", ""), activity, bridge.handle
        )
    except AuthenticationFailed as error:
        log.warning("refused an unauthenticated activity: %s", error)
        raise _refuse(web.HTTPUnauthorized, "missing or invalid Bot Framework token") from None
    except UnsupportedActivity as error:
        raise BadActivity(str(error)) from None
    if answer is None:
        return web.Response(status=201)
    status, payload = answer
    return web.json_response(payload, status=status)


async def transcript(request: web.Request) -> web.Response:
    try:
        chat_id = int(request.match_info["chat_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such chat") from None
    if not request.app[keys.LINKS].valid(chat_id, request.query.get("token", "")):
        raise web.HTTPForbidden(text="this transcript link is not valid or has expired")
    found = await request.app[keys.STORE].transcript(chat_id)
    if found is None:
        raise web.HTTPNotFound(text="no such chat")
    settings = request.app[keys.SETTINGS]
    texts = Texts(pick_language(request.query.get("lang"), settings.default_language))
    return web.Response(text=render(found, texts), content_type="text/html")


async def healthz(request: web.Request) -> web.Response:
    async with request.app[keys.ENGINE].connect() as connection:
        await connection.execute(text("SELECT 1"))
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, clock: Clock = utc_now) -> web.Application:
    """The application factory: resources live in cleanup contexts, state behind AppKeys."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[keys.SETTINGS] = settings
    if settings.local_mode:
        log.warning(
            "LOCAL MODE: no MicrosoftAppId is set, so inbound requests are NOT authenticated. "
            "Only activities whose serviceUrl host is one of %s are accepted. "
            "Set MicrosoftAppId and MicrosoftAppPassword before exposing this bot.",
            ", ".join(sorted(settings.allowed_service_hosts)),
        )
    app[keys.ADAPTER] = BridgeAdapter(settings)

    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        await create_schema(engine)
        app[keys.ENGINE] = engine
        app[keys.STORE] = Store(create_sessionmaker(engine), clock)
        yield
        await engine.dispose()

    async def links(app: web.Application) -> AsyncIterator[None]:
        secret = settings.transcript_secret or await app[keys.STORE].secret("transcript_secret")
        app[keys.LINKS] = TranscriptLinks(
            secret, settings.public_url, settings.transcript_ttl_days * 86400
        )
        app[keys.BRIDGE] = Bridge(
            FlowContext(
                store=app[keys.STORE],
                default_language=settings.default_language,
                transcript_url=app[keys.LINKS].url,
                flood_messages=settings.flood_messages,
                flood_window=settings.flood_window,
            )
        )
        yield

    async def client_session(app: web.Application) -> AsyncIterator[None]:
        session = ClientSession(
            timeout=ClientTimeout(total=settings.send_timeout),
            connector=TCPConnector(limit=0, limit_per_host=settings.connections_per_host),
        )
        app[keys.CLIENT_SESSION] = session
        yield
        await session.close()

    async def delivery(app: web.Application) -> AsyncIterator[None]:
        store = app[keys.STORE]
        dispatcher = Dispatcher(
            store,
            Connector(settings, app[keys.CLIENT_SESSION]),
            sweep_interval=settings.sweep_interval,
            lease=max(settings.outbox_lease, settings.send_timeout + 1),
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
        )
        store.on_commit = dispatcher.kick
        app[keys.DISPATCHER] = dispatcher
        sweeper = asyncio.create_task(dispatcher.run())
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await dispatcher.close()

    app.cleanup_ctx.extend([database, links, client_session, delivery])
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/transcripts/{chat_id}", transcript)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    web.run_app(create_app(settings), host="0.0.0.0", port=settings.port)


if __name__ == "__main__":
    main()

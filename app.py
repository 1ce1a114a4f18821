"""Support Bridge: the aiohttp application (``python app.py`` runs it)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from yarl import URL

from bot import config_check, keys, logs, operations, wakeups
from bot.ai import Assistant
from bot.bridge import Bridge
from bot.channels import make_channels
from bot.channels.zalo import ZaloChannel
from bot.delivery import Dispatcher
from bot.firstbot import DirectLine, FirstBot
from bot.hook import CommitHook
from bot.mail import Mailer
from bot.metrics import Metrics
from bot.pacing import PaceLimits
from bot.presence_sync import presence_sync
from bot.sdk import AuthenticationFailed, BridgeAdapter, bearer_token_shaped
from bot.settings import BadSettings, Settings
from bot.timers import Timers
from bot.transcript import TranscriptLinks
from bot.transcript_page import content_policy, render
from bot.trust import Gate
from bot.wakeups import Changes
from cards.times import valid_zone
from dialogs.context import FlowContext
from dialogs.i18n import Texts, pick_language
from store import Store, migrate, trace, transcripts
from store.channels import ZALO, mailed_channels
from store.core import Clock, Retention, utc_now
from store.engine import create_engine
from store.unit import IntakeLimits, MailPolicy, Policy
from web import add_front_door
from web.console import routes as console_routes
from web.directline import LOCAL_BOT
from web.headers import secure
from web.inputs import Unreadable, read_json, refuse_unstorable_text

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


# Longest ids the bridge stores (Teams thread ids are about 100 characters).
ID_LIMITS = {
    "id": 256,
    "channelId": 64,
    "from.id": 256,
    "recipient.id": 256,
    "conversation.id": 400,
}


class BadActivity(web.HTTPBadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(text=json.dumps({"error": reason}), content_type="application/json")


def _refuse(cls: type[web.HTTPException], reason: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": reason}), content_type="application/json")


def validate_activity(body: Any, settings: Settings) -> dict[str, Any]:
    """Check the shape the bridge relies on; raise a 4xx with the reason otherwise.

    A channel gives up on a 4xx and re-delivers on a 5xx, so everything that can be
    refused for its shape is refused here, with a reason that names the field, instead
    of failing later inside the turn.
    """
    if not isinstance(body, dict):
        raise BadActivity("the body must be a JSON object (an activity)")
    if settings.local_mode and body.get("recipient") is None:
        # Local tools (a local Direct Line server, the Emulator's channel "emulator")
        # may leave the bot's account out; in local mode the bridge answers as itself.
        body["recipient"] = dict(LOCAL_BOT)

    def present(field: str) -> bool:
        return body.get(field) is not None

    kind = body.get("type")
    if not present("type") or kind == "":
        raise BadActivity("'type' is missing")
    if not isinstance(kind, str):
        raise BadActivity("'type' must be a string")
    if kind not in ACTIVITY_TYPES:
        raise BadActivity(f"unknown activity type {kind!r}")
    for field in ("from", "conversation", "recipient"):
        value = body.get(field)
        if value is None:
            raise BadActivity(f"'{field}' is missing")
        if not isinstance(value, dict):
            raise BadActivity(f"'{field}' must be an object")
        if value.get("id") is None or value["id"] == "":
            raise BadActivity(f"'{field}.id' is missing")
        if not isinstance(value["id"], str):
            raise BadActivity(f"'{field}.id' must be a string")
    service_url = body.get("serviceUrl")
    if not present("serviceUrl") or service_url == "":
        raise BadActivity("'serviceUrl' is missing")
    if not isinstance(service_url, str):
        raise BadActivity("'serviceUrl' must be a string")
    # The URL is checked with both parsers that will use it: urllib (the SDK joins paths
    # onto it) and yarl (aiohttp sends the request). A URL they read differently, or that
    # yarl refuses (a backslash in the host, a port out of range), could never be answered,
    # or would be answered somewhere other than the host checked here.
    try:
        parts = urlsplit(service_url)
        sent_to = URL(service_url)
        port = sent_to.port
    except ValueError:
        raise BadActivity("'serviceUrl' is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port:
        raise BadActivity("'serviceUrl' is not an http(s) URL")
    host = parts.hostname.lower()
    try:
        expected = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadActivity("'serviceUrl' is not a valid URL") from None
    if (sent_to.raw_host or "").lower() != expected:
        raise BadActivity("'serviceUrl' is ambiguous (its host depends on the parser)")
    if settings.local_mode and host not in settings.allowed_service_hosts:
        raise _refuse(web.HTTPForbidden, "serviceUrl host is not allowed in local mode")
    for field in ("text", "channelId", "id", "locale", "name", "replyToId"):
        if present(field) and not isinstance(body[field], str):
            raise BadActivity(f"'{field}' must be a string")
    for field, limit in ID_LIMITS.items():
        owner, _, key = field.rpartition(".")
        value = body.get(owner, {}).get(key) if owner else body.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise BadActivity(f"'{field}' is longer than {limit} characters")
    for field in ("entities", "attachments", "membersAdded", "membersRemoved"):
        if present(field) and not isinstance(body[field], list):
            raise BadActivity(f"'{field}' must be a list")
    if present("channelData") and not isinstance(body["channelData"], dict):
        raise BadActivity("'channelData' must be an object")
    # Nesting, NUL characters and lone surrogates were refused by the one JSON reader
    # (``web.inputs.read_json``) that read the body, before anything recursive saw it.
    return body


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /api/messages, counted by activity type and outcome for ``/metrics``."""
    trace.begin(None, None)
    status = 500
    try:
        response = await _turn(request)
        status = response.status
        return response
    except web.HTTPException as answer:
        status = answer.status
        raise
    finally:
        kind = trace.ACTIVITY_TYPE.get()
        request.app[keys.METRICS].activity(kind, status)
        log.info("%s activity answered %s", kind or "unreadable", status)


async def _turn(request: web.Request) -> web.StreamResponse:
    """Validate, authenticate, run the turn, answer at once.

    Every way the body can be unreadable (too large, an unknown charset, not JSON,
    NaN or Infinity, nested deeper than the parser goes) is answered with a 4xx and a
    reason: a 5xx would make the channel re-deliver the same bad body again and again.
    """
    settings = request.app[keys.SETTINGS]
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise Unreadable(413, "activity too large").answer(limit=limit)
    if not settings.local_mode and not bearer_token_shaped(
        request.headers.get("Authorization", "")
    ):
        # Before the body is read: a request without a token costs nothing more.
        log.warning("refused a request without a Bot Framework token")
        raise _refuse(web.HTTPUnauthorized, "missing or invalid Bot Framework token")
    if "json" not in request.content_type:
        raise _refuse(web.HTTPUnsupportedMediaType, "send the activity as application/json")

    try:
        body = await read_json(request, max_bytes=limit, seconds=settings.client_timeout)
    except Unreadable as refused:
        raise refused.answer(limit=limit) from None
    kind = body.get("type") if isinstance(body, dict) else None
    if isinstance(kind, str) and kind in ACTIVITY_TYPES:
        # Known types only: a metric's label must not take whatever a sender writes.
        trace.begin(body.get("id") if isinstance(body.get("id"), str) else None, kind)
    activity = validate_activity(body, settings)
    answer = await run_turn(request.app, request.headers.get("Authorization", ""), activity)
    if answer is None:
        return web.Response(status=201)
    status, payload = answer
    return web.json_response(payload, status=status)


async def run_turn(
    app: web.Application, auth_header: str, activity: dict[str, Any]
) -> tuple[int, dict[str, Any]] | None:
    """Authenticate and run one validated activity: from ``/api/messages``, or in local
    mode from the local Direct Line, so both take the same path."""
    settings = app[keys.SETTINGS]
    try:
        answer = await app[keys.ADAPTER].handle(auth_header, activity, app[keys.BRIDGE].handle)
    except AuthenticationFailed as error:
        log.warning("refused an unauthenticated activity: %s", error)
        raise _refuse(web.HTTPUnauthorized, "missing or invalid Bot Framework token") from None
    await app[keys.DISPATCHER].room(settings.backpressure_wait)
    return answer


def channel_webhook(channel_id: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of a channel's own webhook (``/api/zalo``): the channel verifies the
    request and turns it into activities, which take the bridge's one entry like any
    other's (``Bridge.handle``, into a ``Turn``)."""

    async def webhook(request: web.Request) -> web.StreamResponse:
        channel = request.app[keys.CHANNELS].named(channel_id)
        if channel is None:
            raise web.HTTPNotFound()
        settings = request.app[keys.SETTINGS]
        if (request.content_length or 0) > settings.max_body_bytes:
            raise _refuse(web.HTTPRequestEntityTooLarge, "event too large")
        answer = await channel.receive(request, request.app[keys.BRIDGE].handle)
        await request.app[keys.DISPATCHER].room(settings.backpressure_wait)
        return answer

    return webhook


async def transcript(request: web.Request) -> web.Response:
    """GET /transcripts/<chat reference>?token=: the page, for a valid signed link only."""
    ref = request.match_info["chat_ref"]
    if not request.app[keys.LINKS].valid(ref, request.query.get("token", "")):
        raise web.HTTPForbidden(text="this transcript link is not valid or has expired")
    async with request.app[keys.STORE].reading() as tx:
        chat_id = await transcripts.chat_by_ref(tx, ref)
        found = await transcripts.transcript(tx, chat_id) if chat_id is not None else None
    if found is None:
        raise web.HTTPNotFound(text="no such chat")
    settings = request.app[keys.SETTINGS]
    texts = Texts(pick_language(request.query.get("lang"), settings.default_language))
    page = render(found, texts, found.chat.time_zone or settings.time_zone)
    response = web.Response(text=page, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    secure(response, content_policy())
    return response


def create_app(settings: Settings, clock: Clock = utc_now) -> web.Application:
    """The application factory: resources live in cleanup contexts, state behind AppKeys."""
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[refuse_unstorable_text]
    )
    app[keys.SETTINGS] = settings
    logs.quiet_malformed_requests()
    if settings.local_mode:
        log.warning(
            "LOCAL MODE: no MicrosoftAppId is set, so inbound requests are NOT authenticated. "
            "Only activities whose serviceUrl host is one of %s are accepted. "
            "Set MicrosoftAppId and MicrosoftAppPassword before exposing this bot.",
            ", ".join(sorted(settings.allowed_service_hosts)),
        )
    for warning in config_check.start_warnings(settings):
        log.error("CONFIGURATION: %s", warning)
    if not valid_zone(settings.time_zone):
        log.warning(
            "TIME_ZONE %r is not an IANA time zone; times are shown in UTC", settings.time_zone
        )
    app[keys.METRICS] = Metrics()
    # The store's post-commit hook, made before the store and the dispatcher that both
    # need it (see ``CommitHook``): each is then built complete, nothing is patched later.
    hook = CommitHook(
        lease=timedelta(seconds=max(settings.outbox_lease, settings.send_timeout * 2 + 1))
    )
    app[keys.CHANGES] = changes = Changes()
    hook.watch(changes.changed)
    policy = Policy(
        unanswered_after=timedelta(seconds=settings.unanswered_seconds),
        default_capacity=settings.max_open_chats or None,
        assignment_offer=timedelta(seconds=settings.assignment_offer_seconds),
        queue_notice=timedelta(seconds=settings.queue_notice_seconds),
        intake_limits=IntakeLimits(
            per_conversation=settings.new_chats_per_conversation,
            per_channel=settings.new_chats_per_channel,
        ),
        mail=(
            MailPolicy(
                channels=mailed_channels(),
                after=timedelta(minutes=settings.email_after_minutes),
                batch=timedelta(seconds=settings.email_batch_seconds),
            )
            if settings.mail_enabled
            else None
        ),
        first_bot_timeout=(
            timedelta(seconds=settings.first_bot_timeout) if settings.first_bot_secret else None
        ),
    )

    # One cleanup context per resource, in the order they depend on each other; each
    # undoes on shutdown only what its own startup made (aiohttp runs a cleanup only
    # if its startup ran).
    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        try:
            await migrate.prepare(engine, settings.auto_upgrade)
        except BaseException:
            await engine.dispose()
            raise
        app[keys.ENGINE] = engine
        app[keys.METRICS].count_transactions(engine)
        app[keys.STORE] = Store(
            engine,
            clock,
            policy=policy,
            delivery=hook,
            serialize_writes=engine.dialect.name == "sqlite",
        )
        yield
        await engine.dispose()

    async def links(app: web.Application) -> AsyncIterator[None]:
        secret = settings.transcript_secret or await app[keys.STORE].secret("transcript_secret")
        app[keys.LINKS] = TranscriptLinks(
            secret, settings.public_url, settings.transcript_ttl_days * 86400
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

    async def adapter(app: web.Application) -> AsyncIterator[None]:
        # Turns and the outbox send through the one session; the adapter only uses it.
        app[keys.ADAPTER] = BridgeAdapter(settings, app[keys.CLIENT_SESSION])
        app[keys.CONNECTOR] = app[keys.ADAPTER].connector
        # Every customer channel behind the seam; delivery picks one by the target.
        app[keys.CHANNELS] = make_channels(
            settings, app[keys.CONNECTOR], app[keys.STORE], app[keys.CLIENT_SESSION], clock
        )
        yield

    async def assistant(app: web.Application) -> AsyncIterator[None]:
        # AI help's calls run as tasks of their own, cancelled at shutdown (before the
        # dispatcher and the database close: ``stop_assistant``); the client closes here.
        helper = Assistant(settings, app[keys.METRICS]) if settings.ai_base_url else None
        app[keys.ASSISTANT] = helper
        yield
        if helper is not None:
            await helper.aclose()

    async def stop_assistant(app: web.Application) -> None:
        helper = app.get(keys.ASSISTANT)
        if helper is not None:
            await helper.cancel()

    async def bridge(app: web.Application) -> AsyncIterator[None]:
        app[keys.BRIDGE] = Bridge(
            FlowContext(
                store=app[keys.STORE],
                directory=app[keys.CONNECTOR],
                default_language=settings.default_language,
                transcript_url=app[keys.LINKS].url,
                max_text_length=settings.max_text_length,
                flood_messages=settings.flood_messages,
                flood_window=settings.flood_window,
                offer_timeout=settings.offer_timeout,
                token_bound_ids=settings.direct_line_enhanced_auth,
                public_url=settings.public_url,
                csat_enabled=settings.csat_enabled,
                time_zone=settings.time_zone,
                mail_enabled=settings.mail_enabled,
                assistant=app[keys.ASSISTANT],
            ),
            Gate(app[keys.STORE], settings),
        )
        first_bot = None
        if settings.first_bot_secret:
            # The bot answering first reads and relays as tasks of its own (its flows need
            # no relay of their own, so it takes the context as the bridge has it).
            client = DirectLine(
                app[keys.CLIENT_SESSION], settings.first_bot_endpoint, settings.first_bot_secret
            )
            ctx = app[keys.BRIDGE].ctx
            # Reading stops once the bot is quiet well past its time to answer.
            quiet = settings.first_bot_timeout + 30 * settings.first_bot_poll_max
            first_bot = FirstBot(ctx, client, settings.first_bot_poll_max, quiet)
            app[keys.BRIDGE].ctx = replace(ctx, first_bot=first_bot)
        app[keys.FIRST_BOT] = first_bot
        yield
        if first_bot is not None:
            await first_bot.aclose()

    async def delivery(app: web.Application) -> AsyncIterator[None]:
        dispatcher = Dispatcher(
            app[keys.STORE],
            app[keys.CHANNELS],
            hook,
            sweep_interval=settings.sweep_interval,
            send_margin=settings.send_timeout + 1,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            max_age=timedelta(hours=settings.outbox_max_age_hours),
            retention=Retention(
                failed=timedelta(days=settings.failed_retention_days),
                inbound=timedelta(hours=settings.inbound_retention_hours),
            ),
            metrics=app[keys.METRICS],
            pace=PaceLimits.from_settings(settings),
            coalesce_bytes=settings.coalesce_bytes,
            mailer=Mailer(app[keys.STORE], settings, app[keys.LINKS]),
            first_bot=app[keys.FIRST_BOT],
        )
        app[keys.DISPATCHER] = dispatcher
        sweeper = asyncio.create_task(dispatcher.run())
        # Other replicas' rows and changes, heard from PostgreSQL (bot/wakeups.py).
        stopping = asyncio.Event()
        heard = {wakeups.OUTBOX: dispatcher.heard, wakeups.CHATS: changes.changed}
        listener = asyncio.create_task(
            wakeups.listen(app[keys.STORE], heard, stopping, settings.sweep_interval * 10)
        )
        yield
        stopping.set()
        await listener
        await dispatcher.close(grace=settings.send_timeout + 1)
        await sweeper

    async def timers(app: web.Application) -> AsyncIterator[None]:
        bridge = app[keys.BRIDGE]
        timers = Timers(
            bridge.timer_jobs(),
            settings.timer_interval,
            next_due=bridge.next_timer,
            clock=app[keys.STORE].clock,
        )
        hook.attach_timers(timers.wake)
        ticking = asyncio.create_task(timers.run())
        yield
        timers.stop()
        await ticking

    app.on_shutdown.append(stop_assistant)
    app.cleanup_ctx.extend(
        [
            database,
            links,
            client_session,
            adapter,
            assistant,
            bridge,
            delivery,
            timers,
            presence_sync(settings),
        ]
    )

    async def local_turn(activity: dict[str, Any]) -> None:
        answer = await run_turn(app, "", validate_activity(activity, settings))
        if answer is not None and answer[0] >= 500:
            # The local Direct Line tells Web Chat that the bot failed (a 502), as the
            # service does; the turn's answer carries the reason.
            raise _refuse(web.HTTPInternalServerError, answer[1].get("error", "turn failed"))

    add_front_door(app, settings, local_turn)
    app.router.add_post("/api/messages", messages)
    if settings.zalo_enabled:
        app.router.add_post(ZaloChannel.webhook or "/api/zalo", channel_webhook(ZALO))
    operations.add_routes(app)
    console_routes.setup(app)
    app.router.add_get("/transcripts/{chat_ref}", transcript)
    return app


def server_options(settings: Settings) -> dict[str, Any]:
    """How the HTTP server treats connections: one that has not sent a whole request
    within ``client_timeout`` (a slow or idle client) is closed, from its first byte on."""
    return {"keepalive_timeout": settings.client_timeout, "lingering_time": settings.client_timeout}


def main(settings: Settings | None = None) -> None:
    """Run the server until interrupted (``python app.py`` and ``support-bridge run``)."""
    if settings is None:
        try:
            settings = Settings.from_env()
        except BadSettings as refusal:  # a bad value stops the start, named
            sys.exit("\n".join(f"bad  {problem}" for problem in refusal.problems))
    logs.configure(settings.log_format)
    try:
        web.run_app(
            create_app(settings),
            host=settings.listen_host,
            port=settings.port,
            print=log.info,
            **server_options(settings),
        )
    except migrate.SchemaBehind as refusal:
        log.error("%s", refusal)
        sys.exit(2)


if __name__ == "__main__":
    main()

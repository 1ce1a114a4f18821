"""A local Direct Line service and the Bot Connector of its channel: local mode only.

With no ``MicrosoftAppId`` there is no Azure Bot Service to carry Web Chat's traffic, so
``python app.py`` serves the subset of Direct Line 3.0 that Web Chat uses (tokens,
conversations, posting activities, the WebSocket stream and polling) and hands each
visitor's activity to the bot like any channel would, with ``serviceUrl`` pointing at a
minimal Bot Connector API served here too. The bot's replies therefore take the same path
as on every other channel: the durable outbox and a real HTTP call.

Like Direct Line's enhanced authentication, a token binds the conversation and the user
id; the ``from.id`` a client sends is overwritten with the token's, so a visitor cannot
write as someone else. Tokens are signed with a key the database keeps, so a visitor's
token still names their conversation after a restart (the conversation is opened again,
empty: the page keeps its own history). Activities and uploaded files live in this
process's memory: this is a development front door for one process, never a production
service.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from web.inputs import Unreadable, parse_json, read_json, streams_files

DIRECT_LINE_PREFIX = "/v3/directline"
CONNECTOR_PREFIX = "/_local"  # the serviceUrl path of the local channel
CHANNEL_ID = "directline"
LOCAL_BOT = {"id": "support-bridge", "name": "Support Bridge", "role": "bot"}
TOKEN_SECONDS = 1800
MAX_CONVERSATIONS = 10_000
MAX_ACTIVITIES = 2_000
# What a visitor may upload (photos of parcels, bank transfers; PDF receipts), and how
# much the process keeps in memory for all of them together.
ACCEPTED_FILES = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}
FILES_KEPT_BYTES = 64 * 1024 * 1024
MAX_ACTIVITY_BYTES = 64 * 1024
MAX_FILES = 5
# An activity from Web Chat or the bot (the bridge's own limit on /api/messages).
BODY_LIMIT = 256 * 1024
BODY_SECONDS = 30.0

_JWT_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


def _error(cls: type[web.HTTPException], code: str, message: str) -> web.HTTPException:
    """An error in Direct Line's shape, which Web Chat's client reads."""
    body = json.dumps({"error": {"code": code, "message": message}})
    return cls(text=body, content_type="application/json")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Grant:
    """What a token allows: one conversation, as one user, until ``expires``."""

    conversation_id: str
    user_id: str
    expires: float


@dataclass
class Conversation:
    """One Web Chat conversation: its activities in order; a watermark is an index."""

    id: str
    user_id: str
    activities: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Ids stay unique when a conversation is opened again after a restart.
    generation: str = field(default_factory=lambda: secrets.token_hex(3))

    def append(self, activity: dict[str, Any]) -> dict[str, Any]:
        """Store an activity with its id, time and place; a watermark counts activities, so
        none is ever dropped: a conversation that is full takes no more."""
        if len(self.activities) >= MAX_ACTIVITIES:
            raise _error(web.HTTPTooManyRequests, "ConversationFull", "conversation is full")
        stored = {
            **activity,
            "id": f"{self.id}|{self.generation}{len(self.activities):07d}",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "conversation": {"id": self.id},
            "channelId": CHANNEL_ID,
        }
        self.activities.append(stored)
        self.changed.set()
        self.changed = asyncio.Event()
        return stored

    def after(self, watermark: int) -> list[dict[str, Any]]:
        return self.activities[watermark:]


class LocalDirectLine:
    """The local Direct Line: tokens signed with a per-process key, conversations in memory."""

    def __init__(self, deliver: Deliver, upload_limit: int = 4 * 1024 * 1024) -> None:
        self.secret = secrets.token_urlsafe(32)  # what /api/directline/token exchanges
        self._key = secrets.token_bytes(32)
        self._deliver = deliver
        self._upload_limit = upload_limit
        self._conversations: dict[str, Conversation] = {}
        self._streams: set[web.WebSocketResponse] = set()
        self._files: dict[str, tuple[str, bytes]] = {}

    def use_key(self, key: str) -> None:
        """Sign tokens with a key that outlives the process (the database's), so a
        visitor's token still counts after a restart."""
        self._key = hashlib.sha256(key.encode()).digest()

    # -- tokens ----------------------------------------------------------------------------

    def _signature(self, signed: str) -> str:
        return _b64(hmac.new(self._key, signed.encode(), hashlib.sha256).digest())

    def _token(self, grant: Grant) -> str:
        """A JWT (HS256) like Azure's: Web Chat reads the bound user from its ``user`` claim."""
        claims = {"conv": grant.conversation_id, "user": grant.user_id, "exp": grant.expires}
        signed = f"{_JWT_HEADER}.{_b64(json.dumps(claims).encode())}"
        return f"{signed}.{self._signature(signed)}"

    def _grant(self, token: str) -> Grant | None:
        signed, _, signature = token.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._signature(signed).encode()):
            return None
        claims = json.loads(_unb64(signed.partition(".")[2]))
        grant = Grant(claims["conv"], claims["user"], claims["exp"])
        return grant if grant.expires > time.time() else None

    def _bearer(self, request: web.Request) -> str:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise _error(web.HTTPForbidden, "BadArgument", "missing bearer token")
        return credential.strip()

    def _granted(self, request: web.Request, conversation_id: str | None = None) -> Grant:
        grant = self._grant(self._bearer(request))
        if grant is None:
            raise _error(web.HTTPForbidden, "TokenExpired", "token not valid or expired")
        if conversation_id is not None and conversation_id != grant.conversation_id:
            raise _error(web.HTTPForbidden, "BadArgument", "token is for another conversation")
        return grant

    def _issued(self, grant: Grant) -> dict[str, Any]:
        return {
            "conversationId": grant.conversation_id,
            "token": self._token(grant),
            "expires_in": TOKEN_SECONDS,
        }

    async def generate(self, request: web.Request) -> web.Response:
        """``tokens/generate``: the secret buys a token for a new conversation and a user."""
        if not hmac.compare_digest(self._bearer(request).encode(), self.secret.encode()):
            raise _error(web.HTTPForbidden, "BadArgument", "unknown secret")
        body = await _json_object(request)
        user = body.get("user") if isinstance(body.get("user"), dict) else {}
        user_id = user.get("id") if isinstance(user.get("id"), str) else ""
        if not user_id.startswith("dl_"):
            user_id = f"dl_{secrets.token_hex(16)}"
        grant = Grant(secrets.token_urlsafe(18), user_id[:128], time.time() + TOKEN_SECONDS)
        return web.json_response(self._issued(grant))

    async def refresh(self, request: web.Request) -> web.Response:
        grant = self._granted(request)
        renewed = Grant(grant.conversation_id, grant.user_id, time.time() + TOKEN_SECONDS)
        return web.json_response(self._issued(renewed))

    # -- conversations ---------------------------------------------------------------------

    def _conversation(self, grant: Grant) -> Conversation:
        """The grant's conversation; a valid token proves it was issued, so one forgotten
        by a restart is opened again (empty) rather than refused."""
        found = self._conversations.get(grant.conversation_id)
        if found is None:
            if len(self._conversations) >= MAX_CONVERSATIONS:
                self._conversations.pop(next(iter(self._conversations)))
            found = Conversation(grant.conversation_id, grant.user_id)
            self._conversations[found.id] = found
        return found

    def _opened(self, request: web.Request, grant: Grant, conversation: Conversation) -> dict:
        scheme = "wss" if request.secure else "ws"
        watermark = request.query.get("watermark", "")
        stream = f"{scheme}://{request.host}{DIRECT_LINE_PREFIX}/conversations/{conversation.id}"
        return {
            **self._issued(grant),
            "streamUrl": f"{stream}/stream?watermark={watermark}&t={self._token(grant)}",
        }

    async def start(self, request: web.Request) -> web.Response:
        """``POST conversations``: the token's conversation, made on first use."""
        grant = self._granted(request)
        created = grant.conversation_id not in self._conversations
        conversation = self._conversation(grant)
        return web.json_response(
            self._opened(request, grant, conversation), status=201 if created else 200
        )

    async def reconnect(self, request: web.Request) -> web.Response:
        """``GET conversations/{id}``: a fresh token and stream URL for a conversation in
        progress, asked with its token or, like Azure's, with the secret (the bridge's token
        endpoint, once the visitor's signed cookie proved the conversation theirs)."""
        conversation_id = request.match_info["conversation"]
        if hmac.compare_digest(self._bearer(request).encode(), self.secret.encode()):
            known = self._conversations.get(conversation_id)
            user_id = known.user_id if known else request.query.get("user", "")
            if not user_id.startswith("dl_"):
                raise _error(web.HTTPNotFound, "BadArgument", "conversation not found")
            grant = Grant(conversation_id, user_id[:128], time.time() + TOKEN_SECONDS)
        else:
            grant = self._granted(request, conversation_id)
        conversation = self._conversation(grant)
        return web.json_response(self._opened(request, grant, conversation))

    async def post_activity(self, request: web.Request) -> web.Response:
        """A visitor's activity: stored (the echo Web Chat waits for), then handed to the bot.

        The sender is the token's user whatever the client wrote; the recipient is the
        bot; the reply address is this process's own connector.
        """
        grant = self._granted(request, request.match_info["conversation"])
        conversation = self._conversation(grant)
        return await self._post(request, grant, conversation, await _json_object(request))

    async def _post(
        self, request: web.Request, grant: Grant, conversation: Conversation, body: dict[str, Any]
    ) -> web.Response:
        sender = body.get("from") if isinstance(body.get("from"), dict) else {}
        name = sender.get("name") if isinstance(sender.get("name"), str) else None
        activity = {
            **body,
            "from": {"id": grant.user_id, "role": "user", **({"name": name} if name else {})},
            "recipient": LOCAL_BOT,
            "serviceUrl": own_address(request) + CONNECTOR_PREFIX,
        }
        stored = conversation.append(activity)
        try:
            await self._deliver(stored)
        except web.HTTPException as refused:
            # The bot refusing what the client sent (a 4xx: no type, a bad field) is the
            # client's mistake, told as such; only the bot's own failure is a 502.
            if refused.status < 500:
                raise _error(web.HTTPBadRequest, "BadArgument", refused.text or "") from None
            raise _error(web.HTTPBadGateway, "BotRejectedActivity", refused.text or "") from None
        return web.json_response({"id": stored["id"]})

    @streams_files
    async def upload(self, request: web.Request) -> web.Response:
        """``POST conversations/{id}/upload``: an activity with files (multipart: a part
        ``activity`` and ``file`` parts), as Web Chat's upload button sends it.

        Each file must be a photo or a PDF within the size limit; anything else is refused
        with 413 or 415 and nothing is stored. The files are kept in memory and linked
        from the activity, so the agents get a link they can open.
        """
        grant = self._granted(request, request.match_info["conversation"])
        conversation = self._conversation(grant)
        try:
            reader = await request.multipart()
        except (AssertionError, KeyError, ValueError):
            raise _error(web.HTTPBadRequest, "BadArgument", "send multipart/form-data") from None
        body: dict[str, Any] = {}
        received: list[tuple[str, str, bytes]] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise _error(web.HTTPBadRequest, "BadArgument", "nested multipart")
            if part.name == "activity":
                raw = await _read_part(part, MAX_ACTIVITY_BYTES, "activity too large")
                try:
                    parsed = parse_json(raw or b"{}")
                except Unreadable as refused:
                    raise _error(web.HTTPBadRequest, "BadArgument", refused.reason) from None
                body = parsed if isinstance(parsed, dict) else {}
                continue
            kind = (part.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if kind not in ACCEPTED_FILES:
                raise _error(web.HTTPUnsupportedMediaType, "FileType", "photos and PDF only")
            if len(received) >= MAX_FILES:
                raise _error(web.HTTPBadRequest, "FileCount", "too many files")
            content = await _read_part(part, self._upload_limit, "file too large")
            received.append((kind, (part.filename or "file")[:200], content))
        if not received:
            raise _error(web.HTTPBadRequest, "BadArgument", "no file")
        origin = f"{request.scheme}://{request.host}"
        body["attachments"] = [
            _attachment(kind, origin + self._keep(kind, content), name)
            for kind, name, content in received
        ]
        return await self._post(request, grant, conversation, body)

    def _keep(self, kind: str, content: bytes) -> str:
        """Keep an uploaded file under an unguessable name; the oldest go first."""
        while self._files and sum(len(c) for _, c in self._files.values()) + len(content) > (
            FILES_KEPT_BYTES
        ):
            self._files.pop(next(iter(self._files)))
        name = secrets.token_urlsafe(18) + ACCEPTED_FILES[kind]
        self._files[name] = (kind, content)
        return f"{DIRECT_LINE_PREFIX}/attachments/{name}"

    async def attachment(self, request: web.Request) -> web.Response:
        """An uploaded file, for whoever has its link (the agents): never run as a page."""
        kept = self._files.get(request.match_info["name"])
        if kept is None:
            raise web.HTTPNotFound()
        kind, content = kept
        inline = kind.startswith("image/")
        return web.Response(
            body=content,
            content_type=kind,
            headers={
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Content-Disposition": "inline" if inline else "attachment",
                "Cache-Control": "private, max-age=86400",
            },
        )

    async def poll(self, request: web.Request) -> web.Response:
        grant = self._granted(request, request.match_info["conversation"])
        conversation = self._conversation(grant)
        watermark = _watermark(request)
        return web.json_response(
            {
                "activities": conversation.after(watermark),
                "watermark": str(len(conversation.activities)),
            }
        )

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        """The WebSocket stream: every activity after the watermark, then each new one."""
        token = request.query.get("t", "")
        grant = self._grant(token)
        if grant is None or grant.conversation_id != request.match_info["conversation"]:
            raise _error(web.HTTPForbidden, "TokenExpired", "token not valid or expired")
        conversation = self._conversation(grant)
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        self._streams.add(ws)
        reader = asyncio.create_task(_drain(ws))
        sent = min(_watermark(request), len(conversation.activities))
        try:
            while not ws.closed:
                if len(conversation.activities) > sent:
                    batch = conversation.after(sent)
                    sent = len(conversation.activities)
                    await ws.send_json({"activities": batch, "watermark": str(sent)})
                    continue
                waiter = asyncio.create_task(conversation.changed.wait())
                done, _ = await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if reader in done:
                    break
        finally:
            reader.cancel()
            self._streams.discard(ws)
            await ws.close()
        return ws

    async def close_streams(self, app: web.Application) -> None:
        """On shutdown: open streams would otherwise hold the server for their time-out."""
        for ws in list(self._streams):
            await ws.close()

    # -- the channel's Bot Connector --------------------------------------------------------

    async def from_bot(self, request: web.Request) -> web.Response:
        """``POST /v3/conversations/{id}/activities[/{replyTo}]``: the bot speaks."""
        body = await _json_object(request)
        conversation = self._conversations.get(request.match_info["conversation"])
        recipient = _account(body, "recipient").get("id")
        if conversation is None and isinstance(recipient, str) and recipient.startswith("dl_"):
            # Forgotten by a restart: kept for the visitor, who gets it when they come back.
            grant = Grant(request.match_info["conversation"], recipient, time.time())
            conversation = self._conversation(grant)
        if conversation is None:
            raise _error(web.HTTPNotFound, "ConversationNotFound", "no such conversation")
        stored = conversation.append({**body, "from": {**LOCAL_BOT, **_account(body, "from")}})
        return web.json_response({"id": stored["id"]})

    async def members(self, request: web.Request) -> web.Response:
        conversation = self._conversations.get(request.match_info["conversation"])
        if conversation is None:
            raise _error(web.HTTPNotFound, "ConversationNotFound", "no such conversation")
        return web.json_response([{"id": conversation.user_id}])

    def routes(self) -> list[web.RouteDef]:
        conversation = f"{DIRECT_LINE_PREFIX}/conversations/{{conversation}}"
        connector = f"{CONNECTOR_PREFIX}/v3/conversations/{{conversation}}"
        return [
            web.post(f"{DIRECT_LINE_PREFIX}/tokens/generate", self.generate),
            web.post(f"{DIRECT_LINE_PREFIX}/tokens/refresh", self.refresh),
            web.post(f"{DIRECT_LINE_PREFIX}/conversations", self.start),
            web.get(conversation, self.reconnect, allow_head=False),
            web.post(f"{conversation}/activities", self.post_activity),
            web.post(f"{conversation}/upload", self.upload),
            web.get(f"{DIRECT_LINE_PREFIX}/attachments/{{name}}", self.attachment),
            web.get(f"{conversation}/activities", self.poll, allow_head=False),
            web.get(f"{conversation}/stream", self.stream, allow_head=False),
            web.post(f"{connector}/activities", self.from_bot),
            web.post(f"{connector}/activities/{{reply_to}}", self.from_bot),
            web.put(f"{connector}/activities/{{activity}}", self.from_bot),
            web.get(f"{connector}/members", self.members, allow_head=False),
        ]


def own_address(request: web.Request) -> str:
    """This server as seen from itself (loopback and the port the request came in on),
    so the bot's replies stay on this machine whatever Host header the client sent."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else request.url.port
    ipv6 = bool(sockname) and ":" in str(sockname[0])
    return f"http://{'[::1]' if ipv6 else '127.0.0.1'}:{port}"


def _account(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _watermark(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("watermark") or 0))
    except ValueError:
        return 0


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The body, read by the one bounded JSON reader, refused in Direct Line's shape."""
    try:
        body = (
            await read_json(request, max_bytes=BODY_LIMIT, seconds=BODY_SECONDS)
            if request.can_read_body
            else {}
        )
    except Unreadable as refused:
        shaped = {"error": {"code": "BadArgument", "message": refused.reason}}
        raise refused.answer(json.dumps(shaped), limit=BODY_LIMIT) from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "BadArgument", "the body must be a JSON object")
    return body


def _attachment(kind: str, url: str, name: str) -> dict[str, str]:
    """An uploaded file as an attachment; a photo is its own thumbnail, so Web Chat shows
    the visitor the picture they sent rather than a file to download."""
    attachment = {"contentType": kind, "contentUrl": url, "name": name}
    if kind.startswith("image/"):
        attachment["thumbnailUrl"] = url
    return attachment


async def _read_part(part: BodyPartReader, limit: int, refusal: str) -> bytes:
    """A multipart part's bytes, refused with 413 past ``limit`` (never read whole first)."""
    content = bytearray()
    while chunk := await part.read_chunk():
        content += chunk
        if len(content) > limit:
            body = json.dumps({"error": {"code": "TooLarge", "message": refusal}})
            raise web.HTTPRequestEntityTooLarge(
                max_size=limit,
                actual_size=len(content),
                text=body,
                content_type="application/json",
            )
    return bytes(content)


async def _drain(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, Web Chat's keep-alives, until it closes."""
    async for message in ws:
        if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break

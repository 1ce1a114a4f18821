"""Zalo Official Account: a customer channel of its own (not a Bot Framework channel).

- **Inbound**: ``POST /api/zalo``, Zalo's webhook. ``X-ZEvent-Signature`` must be
  ``mac=`` and the hex SHA-256 of the app id, the raw body, the event's ``timestamp``
  and the OA's secret key, compared in constant time; anything else is answered 401 and
  nothing is stored. A message event becomes the same activity JSON as any channel's
  (``channelId`` ``zalo``, the event's ``msg_id`` as its id, so a re-delivered event is
  a duplicate like any other) and runs through the bridge's one entry, into a ``Turn``.
  Texts, images, files, stickers, locations and links are messages; the receipts
  (``user_received_message``, ``user_seen_message``) and ``unfollow`` are told to the
  agents in the chat's thread; ``follow`` changes nothing; ``user_submit_info`` (the user
  shared their Zalo phone with the OA) becomes the bridge's shared-contact event, kept
  as a verified contact (agents then see the same person's website chats).
- **Outbound**: the OA API v3 consultation message (``/v3.0/oa/message/cs``, header
  ``access_token``). Zalo shows no cards and no quick replies: a card or choice becomes
  text and lines (``plain_text``); images and files are downloaded from their link,
  uploaded through the OA upload endpoints and sent as attachments (a file that cannot
  be fetched goes as its link). Texts longer than Zalo takes are sent in parts.
- **Budgets and errors**: Zalo answers HTTP 200 with an ``error`` code. -216 (access
  token invalid) renews the token once and tries again; the reply-window codes become
  :class:`ReplyRefused` (the agents are told in words, the reply stays in the
  transcript); HTTP 429/5xx and network failures are retried by the outbox.
- **Identity**: Zalo sets the sender's id and signs the event: the id is vouched for.
- **Reply window**: Zalo lets an OA answer for a limited time after the customer's last
  interaction (``store/channels.py``); it refuses later replies itself.
- **Tokens**: the OA access token lives about a day; the pair is kept in the database
  (``store/tokens.py``), renewed by one replica at a time (the row is locked while the
  single-use refresh token is spent, and the new pair is written in that transaction).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.channels.base import (
    Activity,
    CustomerChannel,
    Reference,
    ReplyRefused,
    TurnEntry,
    plain_text,
)
from bot.sdk import DeliveryError
from bot.settings import Settings
from dialogs.activity import REQUEST_CONTACT_MARK, SHARED_CONTACT_EVENT
from dialogs.i18n import Texts
from dialogs.replies import text_activity, to_thread
from store import Store, tokens
from store.channels import ZALO, facts
from store.reach import customer_reach
from store.tokens import TokenPair

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"
TEXT_LIMIT = 2000  # Zalo's longest consultation text
TOKEN_INVALID = -216
# Codes Zalo answers when the OA may no longer send consultation messages to the user
# (no interaction within the window, or the user does not follow / blocked the OA).
WINDOW_CODES = frozenset({-213, -230, -232})
RATE_LIMITED = frozenset({-32})
# Renew a little before the access token's end, not after a refused send.
EARLY_RENEWAL = timedelta(minutes=5)
NAME_CACHE = 10_000
MESSAGE_EVENTS = frozenset(
    {
        "user_send_text",
        "user_send_image",
        "user_send_file",
        "user_send_sticker",
        "user_send_location",
        "user_send_link",
        "user_send_gif",
        "user_send_audio",
        "user_send_video",
    }
)
# The user shared their phone (and name) with the OA, answering its request for information.
SHARED_INFO = "user_submit_info"
# Events told to the agents of the customer's open chat, by the team text they show.
NOTICE_EVENTS = {
    "user_received_message": "agent.channel_delivered",
    "user_seen_message": "agent.channel_seen",
    "unfollow": "agent.channel_unfollowed",
}


@dataclass(frozen=True)
class ZaloConfig:
    app_id: str
    app_secret: str
    oa_secret: str
    oa_id: str
    api_url: str
    oauth_url: str
    max_file_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> ZaloConfig:
        return cls(
            app_id=settings.zalo_app_id,
            app_secret=settings.zalo_app_secret,
            oa_secret=settings.zalo_oa_secret,
            oa_id=settings.zalo_oa_id,
            api_url=settings.zalo_api_url.rstrip("/"),
            oauth_url=settings.zalo_oauth_url.rstrip("/"),
            max_file_bytes=settings.zalo_max_file_bytes,
        )


def signature(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    """The ``X-ZEvent-Signature`` an event with this raw body and timestamp carries."""
    mac = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret.encode())
    return f"mac={mac.hexdigest()}"


def verified(config: ZaloConfig, body: bytes, header: str) -> dict[str, Any] | None:
    """The event, if its signature is right (None otherwise: nothing of it is used).

    The timestamp is part of the signed text, so it is read from the body first; the
    body is trusted only once the comparison (in constant time) has succeeded.
    """
    if not config.app_id or not config.oa_secret or not header.startswith("mac="):
        return None
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, str | int):
        return None
    expected = signature(config.app_id, body, str(timestamp), config.oa_secret)
    if not hmac.compare_digest(expected.encode(), header.strip().encode()):
        return None
    return event


def _id(value: Any) -> str:
    return str(value)[:200] if isinstance(value, str | int) and str(value) else ""


def _customer_of(event: dict[str, Any], oa_id: str) -> str:
    """The Zalo user an event is about: the sender of a message, the follower, or the
    reader of the OA's message in a receipt (whichever side is not the OA)."""
    follower = event.get("follower")
    if isinstance(follower, dict) and _id(follower.get("id")):
        return _id(follower.get("id"))
    sender = _id((event.get("sender") or {}).get("id"))
    recipient = _id((event.get("recipient") or {}).get("id"))
    if event.get("event_name") in NOTICE_EVENTS and event.get("event_name") != "unfollow":
        return sender if oa_id and recipient == oa_id else recipient
    return sender


def _attachments(message: dict[str, Any]) -> tuple[list[dict[str, str]], list[str]]:
    """Zalo's attachments as Bot Framework ones (images and files with their links), and
    the lines that say what cannot be attached (a location, a link, a sticker)."""
    found: list[dict[str, str]] = []
    lines: list[str] = []
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, dict):
            file, line = _attachment(attachment)
            found += [file] if file else []
            lines += [line] if line else []
    return found, lines


def _attachment(attachment: dict[str, Any]) -> tuple[dict[str, str] | None, str | None]:
    """One attachment: a file to pass on, or a line of text in its place."""
    kind = str(attachment.get("type") or "")
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
    url = payload.get("url") if isinstance(payload.get("url"), str) else ""
    if kind == "location":
        place = payload.get("coordinates") or {}
        lat, lon = place.get("latitude"), place.get("longitude")
        if lat is None or lon is None:
            return None, None
        return None, f"📍 https://www.google.com/maps?q={lat},{lon}"
    if kind == "link":
        title = payload.get("description") or payload.get("title") or ""
        return None, f"🔗 {title} {url}".replace("  ", " ").strip()
    if not url:
        return None, None
    if kind in ("image", "gif", "sticker"):
        return {"contentType": "image/jpeg", "contentUrl": url, "name": f"{kind}.jpg"}, None
    name = str(payload.get("name") or f"{kind or 'file'}")
    content_type = "application/octet-stream"
    return {"contentType": content_type, "contentUrl": url, "name": name[:200]}, None


def activity_of(event: dict[str, Any], config: ZaloConfig, name: str) -> Activity | None:
    """A message event as activity JSON, the same shape as a Bot Framework channel's, or
    None when it carries no message id to tell a re-delivery by."""
    message = event.get("message") if isinstance(event.get("message"), dict) else {}
    user = _customer_of(event, config.oa_id)
    msg_id = _id(message.get("msg_id"))
    if not user or not msg_id:
        return None
    attachments, lines = _attachments(message)
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    if event.get("event_name") == "user_send_sticker" and not attachments:
        lines.append("🙂")
    oa = config.oa_id or config.app_id
    return {
        "type": "message",
        "id": msg_id,
        "channelId": ZALO,
        "serviceUrl": config.api_url,
        "from": {"id": user, "name": name},
        "recipient": {"id": oa, "name": "Zalo OA"},
        "conversation": {"id": f"{ZALO}:{user}"},
        "text": "\n".join([text, *lines]).strip(),
        "attachments": attachments,
    }


def shared_info_activity(event: dict[str, Any], config: ZaloConfig) -> Activity | None:
    """``user_submit_info`` (the user shared their Zalo phone and name in answer to the
    OA's request for information) as the bridge's shared-contact event: Zalo signed it,
    so the phone is Zalo's own record of the user. None without a user or a phone."""
    info = event.get("info") if isinstance(event.get("info"), dict) else {}
    user = _customer_of(event, config.oa_id)
    phone = info.get("phone")
    if not user or not isinstance(phone, str | int) or not str(phone).strip():
        return None
    oa = config.oa_id or config.app_id
    name = info.get("name") if isinstance(info.get("name"), str) else ""
    return {
        "type": "event",
        "name": SHARED_CONTACT_EVENT,
        "id": f"submit-{user}-{_id(event.get('timestamp'))}",
        "channelId": ZALO,
        "serviceUrl": config.api_url,
        "from": {"id": user, "name": name[:256]},
        "recipient": {"id": oa, "name": "Zalo OA"},
        "conversation": {"id": f"{ZALO}:{user}"},
        "value": {"phone": str(phone)[:64], "name": name[:256]},
    }


def request_info(title: str, text: str) -> dict[str, Any]:
    """Zalo's own form asking the user to share their phone and name with the OA
    (``request_user_info``); their answer comes back as ``user_submit_info``."""
    element = {"title": title[:100], "subtitle": text[:500]}
    payload = {"template_type": "request_user_info", "elements": [element]}
    return {"attachment": {"type": "template", "payload": payload}}


class ZaloError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}")
        self.code = code


class ZaloTokens:
    """The OA access token, renewed once at a time across replicas."""

    def __init__(
        self,
        store: Store,
        session: aiohttp.ClientSession,
        config: ZaloConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._session = session
        self._config = config
        self._clock = clock
        self._pair: TokenPair | None = None
        self._lock = asyncio.Lock()

    async def access(self) -> str:
        """The current access token (renewed first when it is about to end)."""
        pair = self._pair
        if pair is None:
            async with self._store.reading() as tx:
                pair = await tokens.current(tx, ZALO)
            if pair is None:
                raise DeliveryError(401, "no Zalo OA token: run `support-bridge zalo connect`")
            self._pair = pair
        ends = pair.access_expires_at
        if ends is not None and _aware(ends) - EARLY_RENEWAL <= self._clock():
            return await self.renew(pair.access_token)
        return pair.access_token

    async def renew(self, stale: str) -> str:
        """Renew the pair unless someone already has since ``stale`` was read.

        The row is claimed (locked) first: a replica that waits on it reads the pair the
        other one wrote, sees that its stale token was replaced and spends nothing.
        """
        async with self._lock:
            pair = self._pair
            if pair is not None and pair.access_token != stale:
                return pair.access_token
            async with self._store.unit() as tx:
                claimed = await tokens.claim(tx, ZALO)
                if claimed is None:
                    raise DeliveryError(401, "no Zalo OA token: run `support-bridge zalo connect`")
                if claimed.access_token != stale:
                    fresh = claimed  # renewed by another replica while we waited
                else:
                    fresh = await self._refreshed(claimed.refresh_token)
                    await tokens.do_renew(tx, ZALO, fresh)
            self._pair = fresh
            return fresh.access_token

    async def _refreshed(self, refresh_token: str) -> TokenPair:
        """Spend the refresh token at Zalo's OAuth endpoint (inside the claiming unit)."""
        form = {
            "refresh_token": refresh_token,
            "app_id": self._config.app_id,
            "grant_type": "refresh_token",
        }
        return await oauth_pair(self._session, self._config, form, self._clock())


async def oauth_pair(
    session: aiohttp.ClientSession, config: ZaloConfig, form: dict[str, str], now: datetime
) -> TokenPair:
    """A new pair from ``/v4/oa/access_token`` (a code's first one, or a renewal)."""
    url = f"{config.oauth_url}/v4/oa/access_token"
    headers = {"secret_key": config.app_secret}
    try:
        async with session.post(url, data=form, headers=headers) as response:
            status = response.status
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise DeliveryError(None, f"Zalo OAuth: {type(error).__name__}: {error}"[:300]) from error
    if status != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
        raise DeliveryError(status if status != 200 else 401, f"Zalo OAuth: {answer}"[:300])
    lifetime = float(answer.get("expires_in") or 0) or 90000.0
    return TokenPair(
        access_token=str(answer["access_token"]),
        refresh_token=str(answer.get("refresh_token") or ""),
        access_expires_at=now + timedelta(seconds=lifetime),
    )


def pkce_pair() -> tuple[str, str]:
    """(code verifier, code challenge) for the OA authorization (S256)."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def authorization_url(config: ZaloConfig, redirect_uri: str, challenge: str, state: str) -> str:
    query = urlencode(
        {
            "app_id": config.app_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "state": state,
        }
    )
    return f"{config.oauth_url}/v4/oa/permission?{query}"


def _code(value: Any) -> int:
    """Zalo's ``error`` (a number, sometimes as a string; 0 when absent)."""
    try:
        return int(value) if isinstance(value, int | str) else 0
    except ValueError:
        return 0


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class ZaloChannel(CustomerChannel):
    """Zalo OA: its webhook in, the OA API out."""

    facts = facts(ZALO)
    webhook = "/api/zalo"

    def __init__(
        self,
        settings: Settings,
        store: Store,
        session: aiohttp.ClientSession,
        clock: Callable[[], datetime],
    ) -> None:
        self._config = ZaloConfig.of(settings)
        self._store = store
        self._session = session
        self._team = Texts(settings.default_language)
        self.tokens = ZaloTokens(store, session, self._config, clock)
        self._names: OrderedDict[str, str] = OrderedDict()

    # Inbound

    async def receive(self, request: web.Request, turn: TurnEntry) -> web.StreamResponse:
        body = await request.read()
        event = verified(self._config, body, request.headers.get(SIGNATURE_HEADER, ""))
        if event is None:
            log.warning("refused a Zalo webhook call: bad or missing signature")
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "bad signature"}), content_type="application/json"
            )
        kind = str(event.get("event_name") or "")
        if kind in MESSAGE_EVENTS:
            user = _customer_of(event, self._config.oa_id)
            activity = activity_of(event, self._config, await self._name(user))
            if activity is None:
                raise web.HTTPBadRequest(
                    text=json.dumps({"error": "message without sender or msg_id"}),
                    content_type="application/json",
                )
            await turn(activity)
        elif kind == SHARED_INFO:
            shared = shared_info_activity(event, self._config)
            if shared is not None:
                await turn(shared)
        elif kind in NOTICE_EVENTS:
            await self._tell_agents(event, NOTICE_EVENTS[kind])
        return web.json_response({"ok": True})

    async def _tell_agents(self, event: dict[str, Any], key: str) -> None:
        """A receipt or an unfollow, shown in the customer's open chat's thread, once per
        event (its message ids and time are its keys)."""
        user = _customer_of(event, self._config.oa_id)
        if not user:
            return
        async with self._store.reading() as tx:
            reach = await customer_reach(tx, ZALO, user)
        if reach is None or not reach.open:
            return
        message = event.get("message") if isinstance(event.get("message"), dict) else {}
        ids = ",".join(str(i) for i in message.get("msg_ids") or [])[:300]
        keys = [f"z|{event.get('event_name')}|{user}|{ids or event.get('timestamp')}"]
        notice = text_activity(self._team(key))
        await self._store.notify(keys, [to_thread(reach.chat_id, notice)])

    async def _name(self, user: str) -> str:
        """The customer's display name from the OA's user detail, kept in the process; a
        failure leaves a neutral name (the message is never held up for it)."""
        known = self._names.get(user)
        if known is not None:
            return known
        name = f"Zalo {user[-4:]}"
        try:
            answer = await self._call(
                "GET", "/v3.0/oa/user/detail", params={"data": json.dumps({"user_id": user})}
            )
            found = (answer.get("data") or {}).get("display_name")
            if isinstance(found, str) and found.strip():
                name = found.strip()[:256]
                self._names[user] = name
                if len(self._names) > NAME_CACHE:
                    self._names.popitem(last=False)
        except (DeliveryError, ZaloError) as error:
            log.warning("Zalo user detail of %s failed: %s", user[-4:], error)
        return name

    # Outbound

    async def send(self, reference: Reference, activity: Activity) -> str:
        user = str((reference.get("user") or {}).get("id") or "")
        if not user:
            raise DeliveryError(400, "a Zalo reference without a user id")
        if activity.get("type", "message") != "message":
            return ""  # typing and other signals: Zalo has nothing to show them with
        sent, links = await self._send_files(user, activity)
        text = "\n".join(part for part in (plain_text(activity), *links) if part)
        title = (activity.get("channelData") or {}).get(REQUEST_CONTACT_MARK)
        if isinstance(title, str) and title:
            return await self._message(user, request_info(title, text))
        for start in range(0, len(text), TEXT_LIMIT):
            sent = await self._message(user, {"text": text[start : start + TEXT_LIMIT]})
        return sent

    async def _send_files(self, user: str, activity: Activity) -> tuple[str, list[str]]:
        """The activity's images and files, uploaded and sent as attachments: the id of the
        last one sent, and a line with the link of each that could not be uploaded."""
        sent = ""
        links: list[str] = []
        for attachment in activity.get("attachments") or []:
            if not isinstance(attachment, dict) or not attachment.get("contentUrl"):
                continue
            uploaded = await self._upload(attachment)
            if uploaded is None:
                links.append(f"📎 {attachment.get('name') or ''} {attachment['contentUrl']}")
                continue
            sent = await self._message(user, {"attachment": uploaded})
        return sent, links

    async def _message(self, user: str, message: dict[str, Any]) -> str:
        body = {"recipient": {"user_id": user}, "message": message}
        try:
            answer = await self._call("POST", "/v3.0/oa/message/cs", json_body=body)
        except ZaloError as error:
            if error.code in WINDOW_CODES:
                raise ReplyRefused("window_closed", str(error)) from error
            if error.code in RATE_LIMITED:
                raise DeliveryError(429, str(error)) from error
            raise DeliveryError(400, str(error)) from error
        return str((answer.get("data") or {}).get("message_id") or "")

    async def _upload(self, attachment: dict[str, Any]) -> dict[str, Any] | None:
        """The file fetched from its link and uploaded to the OA, as a message attachment;
        None when it cannot be (too large, unreachable): then its link is sent."""
        url = str(attachment["contentUrl"])
        name = str(attachment.get("name") or "file")
        content_type = str(attachment.get("contentType") or "application/octet-stream")
        image = content_type.startswith("image/")
        try:
            async with self._session.get(url) as response:
                if response.status != 200:
                    return None
                data = await response.content.read(self._config.max_file_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("could not fetch a file for Zalo: %s", error)
            return None
        if len(data) > self._config.max_file_bytes:
            return None

        def form() -> aiohttp.FormData:
            made = aiohttp.FormData()
            made.add_field("file", data, filename=name, content_type=content_type)
            return made

        path = "/v2.0/oa/upload/image" if image else "/v2.0/oa/upload/file"
        try:
            answer = await self._call("POST", path, form=form)
        except ZaloError as error:
            log.warning("Zalo refused an upload: %s", error)
            return None
        data_part = answer.get("data") or {}
        if image and data_part.get("attachment_id"):
            element = {"media_type": "image", "attachment_id": data_part["attachment_id"]}
            return {
                "type": "template",
                "payload": {"template_type": "media", "elements": [element]},
            }
        if not image and data_part.get("token"):
            return {"type": "file", "payload": {"token": data_part["token"]}}
        return None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One OA API call with the access token; -216 renews the token once and tries
        again. Raises :class:`ZaloError` for Zalo's other error codes."""
        token = await self.tokens.access()
        for attempt in (1, 2):
            answer = await self._request(method, path, token, json_body, form, params)
            code = _code(answer.get("error"))
            if code == TOKEN_INVALID and attempt == 1:
                token = await self.tokens.renew(token)
                continue
            if code != 0:
                raise ZaloError(code, str(answer.get("message") or ""))
            return answer
        raise AssertionError("unreachable")

    async def _request(
        self,
        method: str,
        path: str,
        token: str,
        json_body: dict[str, Any] | None,
        form: Callable[[], aiohttp.FormData] | None,
        params: dict[str, str] | None,
    ) -> dict[str, Any]:
        url = f"{self._config.api_url}{path}"
        try:
            async with self._session.request(
                method,
                url,
                headers={"access_token": token},
                json=json_body,
                data=form() if form is not None else None,
                params=params,
            ) as response:
                if response.status == 429 or response.status >= 500:
                    raise DeliveryError(response.status, (await response.text())[:300])
                answer = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DeliveryError(None, f"Zalo: {type(error).__name__}: {error}"[:300]) from error
        except ValueError as error:
            raise DeliveryError(502, f"Zalo answered no JSON: {error}"[:300]) from error
        return answer if isinstance(answer, dict) else {}

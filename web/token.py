"""``POST /api/directline/token`` and ``/api/directline/refresh``: the page never sees the
Direct Line secret.

The bridge exchanges the secret for a token bound to one conversation and one user id,
``dl_<random>``. With Direct Line's enhanced authentication the service then enforces
that id, so a visitor cannot write as someone else; the id is kept in a signed
first-party cookie, so a visitor who comes back is the same customer. Only the bridge's
own pages and ``ALLOWED_ORIGINS`` may ask (CORS), and each client address only so often.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError, ClientSession, web
from yarl import URL

from bot.settings import Settings
from web.directline import DIRECT_LINE_PREFIX, own_address
from web.inputs import Unreadable, read_json

log = logging.getLogger(__name__)

VISITOR_COOKIE = "sb_visitor"
CHAT_COOKIE = "sb_chat"  # the visitor's current conversation, signed with their id
VISITOR_PREFIX = "dl_"
COOKIE_PATH = "/api/directline"
_NAME_LIMIT = 128
_TRACKED_ADDRESSES = 10_000
# A token request carries a name or a token (at most 4096 characters), nothing more.
BODY_LIMIT = 16 * 1024
BODY_SECONDS = 10.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refuse(cls: type[web.HTTPException], reason: str, **headers: str) -> web.HTTPException:
    return cls(text=json.dumps({"error": reason}), content_type="application/json", headers=headers)


class RateLimit:
    """At most ``limit`` requests per client address within ``window`` seconds.

    Kept in the process: a token is cheap to ask for again, so a limit per replica is
    enough to stop one address from draining the Direct Line quota.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def wait(self, address: str) -> float:
        """0 when the request may go ahead (and counts); else the seconds to wait."""
        now = time.monotonic()
        if len(self._seen) > _TRACKED_ADDRESSES:
            self._seen = {a: d for a, d in self._seen.items() if d and d[-1] > now - self.window}
        times = self._seen.setdefault(address, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window - now
        times.append(now)
        return 0.0


class VisitorIds:
    """``dl_<random>`` ids signed for the visitor cookie, so only ids the bridge made count."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def _signature(self, user_id: str) -> str:
        return hmac.new(self._key, user_id.encode(), hashlib.sha256).hexdigest()[:32]

    def cookie(self, user_id: str) -> str:
        return f"{user_id}.{self._signature(user_id)}"

    def read(self, cookie: str | None) -> str | None:
        user_id, _, signature = (cookie or "").partition(".")
        valid = user_id.startswith(VISITOR_PREFIX) and hmac.compare_digest(
            signature.encode(), self._signature(user_id).encode()
        )
        return user_id if valid else None

    @staticmethod
    def new() -> str:
        return f"{VISITOR_PREFIX}{secrets.token_hex(16)}"

    def chat_cookie(self, user_id: str, conversation_id: str, until: int) -> str:
        """The conversation a visitor may come back to until ``until`` (Unix seconds)."""
        signature = self._signature(f"{user_id}|{conversation_id}|{until}")
        return f"{conversation_id}.{until}.{signature}"

    def read_chat(self, cookie: str | None, user_id: str) -> str | None:
        """The conversation the cookie proves this visitor had, while it is remembered."""
        parts = (cookie or "").rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) < time.time():
            return None
        conversation_id, until, signature = parts
        expected = self._signature(f"{user_id}|{conversation_id}|{until}")
        return conversation_id if hmac.compare_digest(signature, expected) else None


class TokenService:
    """The two endpoints, over the application's HTTP session."""

    def __init__(
        self,
        settings: Settings,
        session: ClientSession,
        visitors: VisitorIds,
        local_secret: str | None,
    ) -> None:
        """``local_secret``: the local Direct Line's secret, when the bridge serves Direct
        Line itself (local mode); the endpoint is then this server."""
        self._settings = settings
        self._session = session
        self._visitors = visitors
        self._local_secret = local_secret
        self._limit = RateLimit(settings.token_rate_limit)

    # -- who may ask -----------------------------------------------------------------------

    def _own_origins(self, request: web.Request) -> set[str]:
        return {str(request.url.origin()), str(URL(self._settings.public_url).origin())}

    def permitted(self, request: web.Request, origin: str | None) -> bool:
        """The bridge's own pages and ``ALLOWED_ORIGINS``; a request without Origin is no
        browser's cross-site call."""
        return (
            origin is None
            or origin in self._settings.allowed_origins
            or origin in self._own_origins(request)
        )

    def allowed_origin(self, request: web.Request) -> str | None:
        """The request's Origin when it may call; a foreign origin is refused with 403."""
        origin = request.headers.get("Origin")
        if not self.permitted(request, origin):
            raise _refuse(web.HTTPForbidden, "this origin may not ask for a chat token")
        return origin

    @staticmethod
    def cors(response: web.StreamResponse, origin: str | None) -> web.StreamResponse:
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.headers["Vary"] = "Origin"
        return response

    async def preflight(self, request: web.Request) -> web.StreamResponse:
        origin = self.allowed_origin(request)
        response = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
        return self.cors(response, origin)

    def _throttle(self, request: web.Request) -> None:
        wait = self._limit.wait(request.remote or "")
        if wait:
            raise _refuse(
                web.HTTPTooManyRequests,
                "too many chat token requests; try again later",
                **{"Retry-After": str(max(1, round(wait)))},
            )

    # -- the exchange ----------------------------------------------------------------------

    def _endpoint(self, request: web.Request) -> tuple[str, str]:
        if self._local_secret is not None:
            return own_address(request) + DIRECT_LINE_PREFIX, self._local_secret
        return self._settings.direct_line_endpoint, self._settings.direct_line_secret

    async def _call(
        self, url: str, credential: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        """One call to Direct Line (a GET without ``body``: a conversation's reconnection);
        its answer's token fields only, never anything else."""
        try:
            async with self._session.request(
                "GET" if body is None else "POST",
                url,
                json=body,
                headers={"Authorization": f"Bearer {credential}"},
            ) as answer:
                payload = await answer.json(content_type=None) if answer.status < 300 else None
                status = answer.status
        except (ClientError, TimeoutError, ValueError) as error:
            log.warning("Direct Line token call failed: %s", type(error).__name__)
            raise _refuse(web.HTTPBadGateway, "the chat service cannot be reached") from None
        if status in (401, 403, 404) and ("refresh" in url or body is None):
            raise _refuse(web.HTTPForbidden, "this chat token cannot be refreshed")
        if not isinstance(payload, dict) or not isinstance(payload.get("token"), str):
            log.warning("Direct Line answered %s to a token request", status)
            raise _refuse(web.HTTPBadGateway, "the chat service refused a token")
        return {
            "token": payload["token"],
            "conversationId": str(payload.get("conversationId") or ""),
            "expiresIn": int(payload.get("expires_in") or 1800),
        }

    async def token(self, request: web.Request) -> web.StreamResponse:
        """A token for a new conversation of this visitor (their id from the cookie, or new)."""
        origin = self.allowed_origin(request)
        self._throttle(request)
        if not self._settings.direct_line_secret and self._local_secret is None:
            raise _refuse(web.HTTPServiceUnavailable, "DIRECT_LINE_SECRET is not set")
        asked = await _body(request)
        user_id = self._visitors.read(request.cookies.get(VISITOR_COOKIE)) or VisitorIds.new()
        user: dict[str, str] = {"id": user_id}
        name = asked.get("name")
        if isinstance(name, str) and name.strip():
            user["name"] = name.strip()[:_NAME_LIMIT]
        url, secret = self._endpoint(request)
        issued = await self._resumed(request, asked, user_id, url, secret)
        if issued is None:
            trusted = sorted(self._settings.allowed_origins | self._own_origins(request))
            issued = await self._call(
                f"{url}/tokens/generate", secret, {"user": user, "trustedOrigins": trusted}
            )
        response = web.json_response({**issued, "userId": user_id})
        secure = request.secure or self._settings.public_url.startswith("https:")
        remember = int(self._settings.chat_remember_days * 86400)
        if issued["conversationId"] and remember > 0:
            until = int(time.time()) + remember
            response.set_cookie(
                CHAT_COOKIE,
                self._visitors.chat_cookie(user_id, issued["conversationId"], until),
                max_age=remember,
                path=COOKIE_PATH,
                httponly=True,
                secure=secure,
                samesite="None" if secure else "Lax",
            )
        response.set_cookie(
            VISITOR_COOKIE,
            self._visitors.cookie(user_id),
            max_age=int(self._settings.visitor_cookie_days * 86400),
            path=COOKIE_PATH,
            httponly=True,
            secure=secure,
            # The widget's panel is the bridge's page inside the company's site: a cookie
            # the browser may send there must be SameSite=None, which needs https.
            samesite="None" if secure else "Lax",
        )
        return self.cors(response, origin)

    async def _resumed(
        self, request: web.Request, asked: dict[str, Any], user_id: str, url: str, secret: str
    ) -> dict[str, Any] | None:
        """A token for the conversation the page asks to resume (``{"resume": id}``), when
        the signed chat cookie proves it is this visitor's and still remembered; else None.

        Direct Line renews a token for a conversation in progress when the secret asks
        (``GET conversations/{id}``): a visitor whose token expired overnight gets their
        conversation back, with its history, and nobody else can.
        """
        wanted = asked.get("resume")
        if not isinstance(wanted, str) or not wanted:
            return None
        proven = self._visitors.read_chat(request.cookies.get(CHAT_COOKIE), user_id)
        if proven != wanted:
            return None
        query = f"?user={user_id}" if self._local_secret is not None else ""
        try:
            issued = await self._call(f"{url}/conversations/{proven}{query}", secret, None)
        except web.HTTPForbidden:
            return None  # the service no longer has it: a new conversation
        return {**issued, "conversationId": issued["conversationId"] or proven, "resumed": True}

    async def refresh(self, request: web.Request) -> web.StreamResponse:
        """A new token for the same conversation and user, before the old one expires."""
        origin = self.allowed_origin(request)
        self._throttle(request)
        token = (await _body(request)).get("token")
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise _refuse(web.HTTPBadRequest, 'send the token to refresh as {"token": ...}')
        url, _ = self._endpoint(request)
        issued = await self._call(f"{url}/tokens/refresh", token, {})
        return self.cors(web.json_response(issued), origin)

    def handler(self, path: str, method: str) -> Handler:
        """The method that answers ``method`` on ``path`` (one of ``ROUTES``)."""
        if method == "OPTIONS":
            return self.preflight
        return self.token if path == TOKEN_PATH else self.refresh


TOKEN_PATH = f"{COOKIE_PATH}/token"
REFRESH_PATH = f"{COOKIE_PATH}/refresh"
ROUTES = [(path, method) for path in (TOKEN_PATH, REFRESH_PATH) for method in ("POST", "OPTIONS")]


async def _body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (no body: an empty one), read by the one bounded reader."""
    if not request.can_read_body:
        return {}
    try:
        body = await read_json(request, max_bytes=BODY_LIMIT, seconds=BODY_SECONDS)
    except Unreadable as refused:
        raise refused.answer(limit=BODY_LIMIT) from None
    return body if isinstance(body, dict) else {}

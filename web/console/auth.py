"""Console sessions: a signed cookie, and the form token that guards every POST.

The cookie holds ``<agent id>.<expiry>.<mac>``, an HMAC made with a server secret kept
in the database, so every replica can read it and nothing is held in memory. It is
HttpOnly (no script reads it), SameSite=Lax (not sent with cross-site form posts) and
Secure outside local mode. Forms carry a token derived from the cookie, checked on every
POST together with the ``Origin`` header: a page elsewhere can make a browser post,
but can neither read this token nor forge the origin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web

COOKIE = "console_session"
SESSION_SECONDS = 8 * 3600
_VALUE = re.compile(r"(?P<agent>[0-9]{1,12})\.(?P<expires>[0-9]{1,12})\.(?P<mac>[0-9a-f]{64})")


class ConsoleAuth:
    """Makes and reads session cookies and form tokens."""

    def __init__(self, secret: str, clock: Callable[[], datetime], *, secure: bool) -> None:
        self._key = secret.encode()
        self._clock = clock
        self.secure = secure

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def _now(self) -> int:
        return int(self._clock().timestamp())

    def session_value(self, agent_id: int) -> str:
        expires = self._now() + SESSION_SECONDS
        return f"{agent_id}.{expires}.{self._mac(f'session:{agent_id}.{expires}')}"

    def agent_of(self, value: str | None) -> int | None:
        """The agent a cookie names, if it is ours and has not expired."""
        found = _VALUE.fullmatch(value or "")
        if found is None:
            return None
        agent, expires = found["agent"], found["expires"]
        expected = self._mac(f"session:{agent}.{expires}")
        if not hmac.compare_digest(expected, found["mac"]) or int(expires) <= self._now():
            return None
        return int(agent)

    def form_token(self, value: str) -> str:
        """The token forms carry: bound to the session, unknown to other sites."""
        return self._mac(f"form:{value}")[:40]

    def start(self, response: web.StreamResponse, agent_id: int) -> None:
        response.set_cookie(
            COOKIE,
            self.session_value(agent_id),
            max_age=SESSION_SECONDS,
            path="/console",
            httponly=True,
            samesite="Lax",
            secure=self.secure,
        )

    def end(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/console")

    @staticmethod
    def check_origin(request: web.Request) -> None:
        """Refuse a request a page of another site made the browser send."""
        origin = request.headers.get("Origin")
        # The host only: behind a TLS-terminating proxy the scheme seen here is http.
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="cross-site request refused")

    def check_form(self, request: web.Request, form_value: str | None) -> None:
        """Refuse a POST whose origin is another site or whose form token is not ours."""
        self.check_origin(request)
        cookie = request.cookies.get(COOKIE, "")
        expected = self.form_token(cookie) if cookie else None
        if expected is None or not hmac.compare_digest(expected, form_value or ""):
            raise web.HTTPForbidden(text="the form has expired; reload the page")

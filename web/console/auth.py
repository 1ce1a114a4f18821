"""Console sessions: the cookie that names one, and the form token that guards every POST.

The cookie holds a random token naming a session row kept on the server
(``store.console_sessions``): every console request reads that row, so signing out,
"sign out everywhere" and the loss of the supervisor's role end a session at once, on
every replica. It is HttpOnly (no script reads it), SameSite=Lax (not sent with
cross-site form posts) and Secure outside local mode. Forms carry a token derived from
the cookie with a server secret, checked on every POST together with the ``Origin``
header: a page elsewhere can make a browser post, but can neither read this token nor
forge the origin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlsplit

from aiohttp import web

from store.console_sessions import SESSION_TTL

COOKIE = "console_session"
SESSION_SECONDS = int(SESSION_TTL.total_seconds())
# ``secrets.token_urlsafe(32)``: anything else is not ours and costs no database read.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


class ConsoleAuth:
    """Reads and writes session cookies, and makes and checks form tokens."""

    def __init__(self, secret: str, *, secure: bool) -> None:
        self._key = secret.encode()
        self.secure = secure

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def token_of(value: str | None) -> str | None:
        """The session token a cookie holds, if it has the shape of one (the store says
        whether it names a live session)."""
        return value if value is not None and _TOKEN.fullmatch(value) else None

    def form_token(self, value: str) -> str:
        """The token forms carry: bound to the session, unknown to other sites."""
        return self._mac(f"form:{value}")[:40]

    def start(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token,
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
        # As bytes: compare_digest refuses str with characters beyond ASCII (a forged form).
        given = (form_value or "").encode("utf-8", "surrogatepass")
        if expected is None or not hmac.compare_digest(expected.encode(), given):
            raise web.HTTPForbidden(text="the form has expired; reload the page")

"""Transcript links: HMAC tokens with an expiry (the page itself: ``bot/transcript_page.py``)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote

# ``<expiry>.<mac>``: ASCII digits only (``str.isdigit`` also accepts "²", which ``int``
# refuses) and few enough of them for ``int`` (expiries are ten digits until 2286).
_TOKEN = re.compile(r"(?P<expires>[0-9]{1,12})\.(?P<mac>[0-9a-f]{64})", re.ASCII)


class TranscriptLinks:
    """Signs and checks ``/transcripts/<chat reference>?token=<expiry>.<mac>`` links.

    The reference is the chat's random public id, so a link names no row id, and the
    token is parsed without ever raising: anything but ``<digits>.<hex>`` is invalid.
    """

    def __init__(self, secret: str, public_url: str, ttl_seconds: float) -> None:
        self._key = secret.encode()
        self._base = public_url.rstrip("/")
        self._ttl = ttl_seconds

    def _mac(self, ref: str, expires: int) -> str:
        message = f"transcript:{ref}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def token(self, ref: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self._ttl)
        return f"{expires}.{self._mac(ref, expires)}"

    def url(self, ref: str) -> str:
        return f"{self._base}/transcripts/{quote(ref, safe='')}?token={self.token(ref)}"

    def resume_url(self, ref: str, now: float | None = None) -> str:
        """``/chat?resume=<ref>.<expiry>.<mac>``: the way back to a chat from a mail (the
        page may resume the conversation it names; see :meth:`resumed`)."""
        expires = int((now if now is not None else time.time()) + self._ttl)
        mac = hmac.new(self._key, f"resume:{ref}:{expires}".encode(), hashlib.sha256).hexdigest()
        return f"{self._base}/chat?resume={quote(ref, safe='')}.{expires}.{mac}"

    def resumed(self, value: str, now: float | None = None) -> str | None:
        """The chat reference a ``resume`` parameter names, if it is ours and not expired."""
        ref, _, token = value.partition(".")
        match = _TOKEN.fullmatch(token)
        if not ref or match is None:
            return None
        expires = int(match["expires"])
        if expires < (now if now is not None else time.time()):
            return None
        wanted = hmac.new(self._key, f"resume:{ref}:{expires}".encode(), hashlib.sha256)
        return ref if hmac.compare_digest(match["mac"], wanted.hexdigest()) else None

    def valid(self, ref: str, token: str, now: float | None = None) -> bool:
        match = _TOKEN.fullmatch(token)
        if match is None:
            return False
        expires = int(match["expires"])
        if expires < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(match["mac"], self._mac(ref, expires))

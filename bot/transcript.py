"""Transcript links (HMAC tokens with an expiry) and the transcript page."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from html import escape
from urllib.parse import quote

from dialogs.i18n import Texts
from store.chats import Transcript
from store.models import MessageKind

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

    def valid(self, ref: str, token: str, now: float | None = None) -> bool:
        match = _TOKEN.fullmatch(token)
        if match is None:
            return False
        expires = int(match["expires"])
        if expires < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(match["mac"], self._mac(ref, expires))


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
    "li{margin:.4rem 0;list-style:none}.who{font-weight:600}.at{color:#666;font-size:.85em}"
    ".note{background:#fff7d6}.activity{color:#666;font-style:italic}"
    ".text{white-space:pre-wrap}"
)


def render(transcript: Transcript, t: Texts) -> str:
    """The whole chat as a small HTML page; every value is escaped."""
    chat = transcript.chat
    people = (
        ", ".join(
            f"{escape(name)} ({escape(role.value)})" for name, role in transcript.participants
        )
        or "-"
    )
    items = []
    for line in transcript.lines:
        at = line.at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if line.kind == MessageKind.ACTIVITY:
            text = t(f"event.{line.text}", author=line.author)
            items.append(f'<li class="activity"><span class="at">{at}</span> {escape(text)}</li>')
            continue
        label = (
            f' <span class="at">[{escape(t("transcript.internal"))}]</span>'
            if line.kind == MessageKind.NOTE
            else ""
        )
        files = "".join(
            f' <a class="file" href="{escape(f.get("url", ""))}">{escape(f.get("name", ""))}</a>'
            for f in line.attachments
            if str(f.get("url", "")).startswith(("http://", "https://"))
        )
        items.append(
            f'<li class="{line.kind.value}"><span class="at">{at}</span> '
            f'<span class="who">{escape(line.author)}</span>{label}: '
            f'<span class="text">{escape(line.text)}</span>{files}</li>'
        )
    title = escape(t("transcript.title", id=chat.id))
    return (
        f'<!doctype html><html lang="{t.language}"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1>"
        f"<p>{escape(t('transcript.customer'))}: {escape(chat.customer_name)} "
        f"({escape(chat.customer_channel)}) · {escape(t('transcript.state'))}: "
        f"{escape(t('card.state.' + chat.state.value))}</p>"
        f"<p>{escape(t('transcript.participants'))}: {people}</p>"
        f"<p>{escape(t('transcript.tags'))}: {escape(', '.join(chat.tags) or '-')}</p>"
        f"<ul>{''.join(items)}</ul></body></html>"
    )

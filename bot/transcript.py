"""Transcript links (HMAC tokens with an expiry) and the transcript page."""

from __future__ import annotations

import hashlib
import hmac
import time
from html import escape

from dialogs.i18n import Texts
from store.chats import Transcript
from store.models import MessageKind


class TranscriptLinks:
    """Signs and checks ``/transcripts/<chat id>?token=<expiry>.<mac>`` links."""

    def __init__(self, secret: str, public_url: str, ttl_seconds: float) -> None:
        self._key = secret.encode()
        self._base = public_url.rstrip("/")
        self._ttl = ttl_seconds

    def _mac(self, chat_id: int, expires: int) -> str:
        message = f"transcript:{chat_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def token(self, chat_id: int, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self._ttl)
        return f"{expires}.{self._mac(chat_id, expires)}"

    def url(self, chat_id: int) -> str:
        return f"{self._base}/transcripts/{chat_id}?token={self.token(chat_id)}"

    def valid(self, chat_id: int, token: str, now: float | None = None) -> bool:
        expires_text, _, mac = token.partition(".")
        if not expires_text.isdigit() or not mac:
            return False
        expires = int(expires_text)
        if expires < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(mac.encode(), self._mac(chat_id, expires).encode())


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

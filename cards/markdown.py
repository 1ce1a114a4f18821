"""People's words shown to agents, escaped so that they read as written: the one place
that escapes for Teams.

Teams renders a message's text as Markdown with some HTML (``<at>`` mentions, links),
and Adaptive Cards render Markdown in text blocks (and turn ``<at>Name</at>`` into a
mention when the card lists one with that text). A customer's name, text, file name or
URL put there as is could make a bold "system" line, a fake mention or a link whose
text hides its target; escaped, it shows exactly the characters the customer typed.

One function per target, used wherever a person's string (a customer's or an agent's:
name, text, file name, department, tag, canned answer's ``{customer}``) meets it:

- ``card_text``: an Adaptive Card's text block or fact (Markdown, no HTML);
- ``message_text``: a message posted in Teams (a thread, a room, a preview): Markdown
  and HTML;
- ``card_link`` / ``message_link``: a link built from a checked URL (``http``/``https``
  only, anything that could end the link percent-encoded), its text escaped as above;
- ``mention_markup`` / ``mention_entity``: an @mention, only ever of a person the
  bridge's own records name (never from anyone's text).

HTML pages are Jinja templates with autoescape (``web/``, ``bot/templates``).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.core import Person

# Markdown's inline punctuation, anywhere in the text; a card also shows ``<``, ``>`` and
# ``&`` escaped the Markdown way (a message escapes them as HTML instead).
_MARKDOWN = "\\\\`*_\\[\\]()~|!{}"
_CARD_INLINE = re.compile(f"([{_MARKDOWN}<>&])")
_MESSAGE_INLINE = re.compile(f"([{_MARKDOWN}])")
# Block markers that only count at the start of a line: headings, list items, a
# heading's underline (a quote's ``>`` is escaped anywhere: in a card the Markdown way, in
# a message as ``&gt;``, which starts no quote).
_LINE_START = re.compile(r"^(\s*)([#=+-])", re.MULTILINE)
# An ordered list item: digits then ``.`` (``)`` is escaped anywhere already).
_NUMBERED = re.compile(r"^(\s*\d+)(?=\.)", re.MULTILINE)
URL_LIMIT = 2048
# What a URL keeps as is: the reserved and unreserved characters that cannot end a
# Markdown link nor an HTML attribute (no parentheses, brackets, quotes, angle brackets).
_URL_SAFE = "/:?#@!$&*+,;=%-._~"


def _markdown(value: str, inline: re.Pattern[str]) -> str:
    escaped = inline.sub(r"\\\1", value)
    escaped = _NUMBERED.sub(lambda m: f"{m[1]}\\", escaped)
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}", escaped)


def card_text(value: str) -> str:
    """``value`` for an Adaptive Card text block or fact: Markdown and ``<at>`` shown
    literally."""
    return _markdown(value, _CARD_INLINE)


def message_text(value: str) -> str:
    """``value`` for a Teams message's text: Markdown and HTML shown literally."""
    return html.escape(_markdown(value, _MESSAGE_INLINE), quote=False)


def checked_url(url: object) -> str | None:
    """``url`` when it is an ``http``/``https`` address with a host (None otherwise),
    with every character that could end a Markdown link or an HTML attribute
    percent-encoded: ``…)[Click](https://evil.test`` stays inside the one link."""
    if not isinstance(url, str) or len(url) > URL_LIMIT:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    netloc = quote(parts.netloc, safe=_URL_SAFE + "[]")
    path, query, fragment = (quote(p, safe=_URL_SAFE) for p in parts[2:])
    return urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))


def card_link(text: str, url: object) -> str:
    """A Markdown link for a card: ``text`` escaped; just the text when ``url`` is no
    web address."""
    checked = checked_url(url)
    return f"[{card_text(text)}]({checked})" if checked else card_text(text)


def message_link(text: str, url: object) -> str:
    """A Markdown link for a Teams message: ``text`` escaped; just the text when ``url``
    is no web address."""
    checked = checked_url(url)
    return f"[{message_text(text)}]({checked})" if checked else message_text(text)


def mention_markup(person: Person) -> str:
    """The ``<at>`` element of an @mention: the name as HTML text (it cannot close the
    element early); the same text as its entity, so Teams pairs them."""
    return f"<at>{html.escape(person.name, quote=False)}</at>"


def mention_entity(person: Person) -> dict[str, Any]:
    """The entity that makes ``mention_markup(person)`` a mention: only for people the
    bridge's records name (an agent, a supervisor), never for a name someone typed."""
    return {
        "type": "mention",
        "text": mention_markup(person),
        "mentioned": {"id": person.teams_id, "name": person.name},
    }

"""The channel seam: what every customer channel says about itself, in one interface.

A customer channel is one module behind :class:`CustomerChannel` and one line in the
registry (``bot/channels/__init__.py``). Each says:

- **inbound**: how its requests are verified and turned into the same activity JSON as
  any other, so that the bridge reads them into the one typed ``Turn``
  (``dialogs/turn.py``) and the same flows run: the Bot Framework family arrives at
  ``/api/messages``, authenticated by ``bot/sdk``; a channel of its own (Zalo) has its
  own webhook (:meth:`CustomerChannel.receive`), verified before anything is read;
- **outbound**: how text, files and images, and quick replies are sent
  (:meth:`CustomerChannel.send`), and what it cannot show (a card becomes text and
  links where the channel has no cards: :func:`plain_text`);
- **budgets and errors**: what it refuses, as :class:`bot.sdk.DeliveryError` (retried
  when ``retryable``) or :class:`ReplyRefused` (the agents are told in words);
- **identity**: who vouches for the customer's id (``store/channels.py`` ``vouched``);
- **reply window**: how long after the customer's last message a reply may go
  (``store/channels.py`` ``window``).

Pure facts (names, capabilities, windows) live in ``store/channels.py`` so dialogs and
cards can read them; the I/O lives here.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from store.channels import ChannelFacts

Reference = dict[str, Any]
Activity = dict[str, Any]
# The bridge's one entry: an activity as JSON in, an invoke's answer (or None) out.
TurnEntry = Callable[[Activity], Awaitable[Any]]


@dataclass
class ReplyRefused(Exception):
    """The channel refused a reply for good, for a reason the agent can act on (the
    customer's reply window has closed). The reply stays in the transcript; the agents
    are told in the chat's thread (``reason``: a key of ``channels.REFUSAL_KEYS``)."""

    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"refused ({self.reason}): {self.detail}"[:300]


class CustomerChannel(ABC):
    """One customer channel (or a family of channels that share their I/O)."""

    #: The facts dialogs and cards know it by.
    facts: ChannelFacts

    def handles(self, channel_id: str) -> bool:
        """Whether sends to references of ``channel_id`` go through this channel."""
        return channel_id == self.facts.id

    #: The path of its own webhook (None: it arrives at /api/messages like the Bot
    #: Framework's channels).
    webhook: str | None = None

    async def receive(self, request: web.Request, turn: TurnEntry) -> web.StreamResponse:
        """Verify one inbound request, turn it into activities and run each through the
        bridge; answer the channel. Only channels with a ``webhook`` have one."""
        raise web.HTTPNotFound()

    @abstractmethod
    async def send(self, reference: Reference, activity: Activity) -> str:
        """Send an activity (text, files, quick replies, cards) to the customer at
        ``reference``; returns the channel's id of the message. Raises ``DeliveryError``
        or :class:`ReplyRefused`."""


def plain_text(activity: Activity) -> str:
    """An activity as a channel without cards shows it: its text, a card's text blocks
    and facts as lines, its buttons and quick replies as lines to answer with, and its
    links written out."""
    lines = _text_lines(activity)
    for attachment in activity.get("attachments") or []:
        content = attachment.get("content") if isinstance(attachment, dict) else None
        if isinstance(content, dict) and content.get("type") == "AdaptiveCard":
            lines.extend(_card_lines(content))
    lines.extend(_choice_lines(activity))
    return "\n".join(lines)


def _text_lines(activity: Activity) -> list[str]:
    text = activity.get("text")
    if not isinstance(text, str) or not text.strip():
        return []
    return [unmarked(text.strip()) if activity.get("textFormat") == "markdown" else text]


def _choice_lines(activity: Activity) -> list[str]:
    """Quick replies as lines to answer with."""
    actions = (activity.get("suggestedActions") or {}).get("actions") or []
    choices = [a.get("title") or a.get("value") for a in actions if isinstance(a, dict)]
    return [f"• {choice}" for choice in choices if isinstance(choice, str) and choice]


_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__", re.DOTALL)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_ESCAPED = re.compile(r"\\([\\`*_\[\]()~|!{}#>+\-.])")


def unmarked(text: str) -> str:
    """Markdown as a channel without formatting shows it: bold without its stars, a link
    as its text and address, escapes undone (what the bridge's notices use)."""
    text = _LINK.sub(lambda m: f"{m[1]} ({m[2]})" if m[1] != m[2] else m[2], text)
    text = _BOLD.sub(lambda m: m[1] or m[2], text)
    return _ESCAPED.sub(r"\1", text)


def _facts(element: dict[str, Any]) -> list[str]:
    return [f"{f.get('title')}: {f.get('value')}" for f in element.get("facts") or []]


def _choices(element: dict[str, Any]) -> list[str]:
    return [f"• {c.get('title')}" for c in element.get("choices") or []]


def _link(element: dict[str, Any]) -> list[str]:
    return [f"{element.get('title') or ''} {element.get('url') or ''}".strip()]


def _text(element: dict[str, Any]) -> list[str]:
    return [element["text"]] if isinstance(element.get("text"), str) else []


def _button(element: dict[str, Any]) -> list[str]:
    return [f"• {element['title']}"] if element.get("title") else []


# What each kind of card element shows as lines (its children are read after it).
_ELEMENT_LINES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "TextBlock": _text,
    "TextRun": _text,
    "FactSet": _facts,
    "Input.ChoiceSet": _choices,
    "Action.OpenUrl": _link,
    "Action.Submit": _button,
    "Action.Execute": _button,
}


def _card_lines(element: Any) -> list[str]:
    """The readable parts of a card, in order: text, facts, choices, links."""
    if isinstance(element, list):
        return [line for item in element for line in _card_lines(item)]
    if not isinstance(element, dict):
        return []
    own = _ELEMENT_LINES.get(str(element.get("type")))
    lines = own(element) if own else []
    for key in ("body", "items", "columns", "inlines", "actions"):
        lines.extend(_card_lines(element.get(key)))
    return lines

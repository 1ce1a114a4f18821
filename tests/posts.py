"""Reading what the connector got as the lines that were written.

A backed-up lane sends consecutive lines of one author as one post (its paragraphs),
listing every row's delivery id in ``channelData``; tests that count messages count
lines, and tests of once-only delivery look at the ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.connector_emulator import ConnectorEmulator

DELIVERY_KEY = "bridgeDeliveryId"
DELIVERY_KEYS = "bridgeDeliveryIds"


@dataclass(frozen=True)
class Post:
    """One successful POST to a conversation: the rows it carried and their lines."""

    keys: tuple[str, ...]
    lines: tuple[str, ...]
    at: float


def post_keys(body: dict) -> tuple[str, ...]:
    data = body.get("channelData") or {}
    listed = data.get(DELIVERY_KEYS)
    if isinstance(listed, list) and listed:
        return tuple(str(key) for key in listed)
    return (str(data.get(DELIVERY_KEY, "")),)


def split_lines(body: dict) -> tuple[str, ...]:
    """The lines of a post: one per row it carries (each its own paragraph)."""
    text = str(body.get("text") or "")
    count = len(post_keys(body))
    return tuple(text.split("\n\n", count - 1)) if count > 1 else (text,)


def posts(connector: ConnectorEmulator, conversation: str) -> list[Post]:
    """Successful sends to one conversation, in order of receipt."""
    found = [
        Post(post_keys(call.body), split_lines(call.body), call.at)
        for call in connector.calls
        if call.conversation_id == conversation
        and call.method == "POST"
        and 200 <= call.status < 300
        and call.body
    ]
    return sorted(found, key=lambda p: p.at)


def lines(connector: ConnectorEmulator, conversation: str) -> list[str]:
    """Every line delivered to a conversation, posts of several lines split again."""
    return [
        line
        for activity in connector.activities(conversation)
        if activity.get("text")
        for line in split_lines(activity)
    ]


def once(connector: ConnectorEmulator, conversation: str) -> tuple[list[str], int]:
    """The lines of a conversation with each row counted once (by its delivery id), and
    how many posts repeated a row already delivered (a send whose answer was lost)."""
    seen: set[str] = set()
    found: list[str] = []
    repeats = 0
    for post in posts(connector, conversation):
        repeated = False
        for key, line in zip(post.keys, post.lines, strict=True):
            if key in seen:
                repeated = True
                continue
            seen.add(key)
            found.append(line)
        repeats += repeated
    return found, repeats

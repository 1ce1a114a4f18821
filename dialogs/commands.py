"""Agents' commands: ``/word argument`` anywhere, or ``@Bot word argument`` for known words."""

from __future__ import annotations

from dataclasses import dataclass

from cards.actions import INVITE, JOIN, LEAVE, TRANSFER
from store.models import Availability

COMMAND_PREFIX = "/"
NOTE_PREFIX = "//"

SETUP = "setup"
# Every command word, the one list of them: the bridge's table of handlers must name
# exactly these (it checks at import), and a canned answer's shortcut may be none of them
# (``/who`` would run the command, never send the answer).
WORDS: frozenset[str] = frozenset(
    {
        *(status.value for status in Availability),  # online, away, offline
        JOIN, LEAVE, INVITE, TRANSFER,
        SETUP, "close", "chats", "history", "supervisor", "status", "who", "capacity", "move",
        "timezone", "help", "canned", "tags", "tag", "untag", "note", "console", "report",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Command:
    word: str
    argument: str


def parse_command(text: str, *, addressed: bool, known: frozenset[str]) -> Command | None:
    """The command in a message, or None for a message meant for the customer.

    ``/word`` is always a command (the word may be unknown: the caller answers
    that). A bare word is one only when the bot was @mentioned and the word is
    ``known``: an agent may well write "close" to a customer. ``//`` starts an
    internal note, not a command.
    """
    stripped = text.strip()
    if stripped.startswith(NOTE_PREFIX):
        return None
    slashed = stripped.startswith(COMMAND_PREFIX)
    word, _, rest = stripped.removeprefix(COMMAND_PREFIX).partition(" ")
    word = word.lower()
    if slashed or (addressed and word in known):
        return Command(word, rest.strip())
    return None

"""Agents' commands: ``/word argument`` anywhere, or ``@Bot word argument`` for known words."""

from __future__ import annotations

from dataclasses import dataclass

COMMAND_PREFIX = "/"
NOTE_PREFIX = "//"

# The one command the bridge runs itself, with the tenant the trust gate admitted; every
# other word is a key of the command table (``dialogs.table``).
SETUP = "setup"


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

"""One inbound activity, read once at the seam: who, where, what, which keys.

The bridge builds a :class:`Turn` for every activity before any flow runs, so no
handler parses the wire format again, and every handler has the same signature
(``async def handler(ctx, turn)``). The raw activity stays available for the few
places that pass it on as it is (a conversation reference, a card's data).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from cards.actions import Pressed
from dialogs.activity import (
    activity_keys,
    bot_name,
    channel_of,
    conversation_id,
    field,
    mentioned_people,
    mentions_bot,
    person_of,
    reference_of,
    team_of,
    text_for_bot,
    thread_of,
)
from dialogs.commands import Command, parse_command
from dialogs.context import FlowContext
from store.views import Person

if TYPE_CHECKING:
    from dialogs.agents import InvokeAnswer


@dataclass(frozen=True)
class Turn:
    """What an inbound activity says, typed; built by :meth:`Turn.of`."""

    activity: dict[str, Any]
    kind: str  # the activity's type
    channel: str  # channelId: msteams, webchat, directline, emulator...
    person: Person  # the sender, as the channel names them
    conversation: str  # the conversation id (a thread's, for a reply in a room)
    thread: str | None  # the room thread a reply was written in, None at the root
    room: str  # the Teams channel written in (a room once set up); meaningless off Teams
    team: str | None  # the Teams team of that channel
    reference: dict[str, Any]  # where answers to this activity go
    keys: tuple[str, ...]  # what makes a re-delivery recognisable
    locale: str | None
    text: str  # the words for the bot: without the bot's @mention
    written: str  # the text exactly as sent: a customer's words are relayed untouched
    addressed: bool  # the bot was @mentioned
    mentions: tuple[Person, ...]  # everyone else @mentioned, in order
    bot: str  # the bot's display name, as the sender sees it
    bot_id: str  # the bot's account id in this channel
    value: dict[str, Any] | None  # a card's submitted data (``Action.Submit``)
    command: Command | None = None  # an agent's command, when the words are one
    by_invoke: bool = False  # an invoke: its answer is the HTTP response
    # A card press the trust gate admitted (set by the bridge, which asks the gate).
    pressed: Pressed | None = None

    @classmethod
    def of(cls, activity: dict[str, Any], *, known: frozenset[str] = frozenset()) -> Turn:
        """Read ``activity``; ``known`` are the command words an @mention may start."""
        kind = str(activity.get("type") or "")
        addressed = mentions_bot(activity)
        text = text_for_bot(activity)
        value = activity.get("value")
        return cls(
            activity=activity,
            kind=kind,
            channel=str(activity.get("channelId") or ""),
            person=person_of(activity),
            conversation=conversation_id(activity),
            thread=thread_of(activity),
            room=channel_of(activity),
            team=team_of(activity),
            reference=reference_of(activity),
            keys=tuple(activity_keys(activity)),
            locale=activity.get("locale"),
            text=text,
            written=str(activity.get("text") or ""),
            addressed=addressed,
            mentions=tuple(mentioned_people(activity)),
            bot=bot_name(activity),
            bot_id=str(field(activity, "recipient").get("id") or ""),
            value=value if isinstance(value, dict) else None,
            command=(
                parse_command(text, addressed=addressed, known=known) if kind == "message" else None
            ),
            by_invoke=kind == "invoke",
        )

    @property
    def word(self) -> str:
        """The command's word ("" when the turn is no command)."""
        return self.command.word if self.command else ""

    @property
    def argument(self) -> str:
        """What follows the command's word ("" when the turn is no command)."""
        return self.command.argument if self.command else ""

    @property
    def service_url(self) -> str | None:
        """The Bot Connector that sent the activity (where its members API is asked)."""
        url = self.reference.get("serviceUrl")
        return url if isinstance(url, str) else None

    @property
    def channel_data(self) -> dict[str, Any]:
        return field(self.activity, "channelData")


# Every handler's one signature: the flows' context and the turn; an invoke's handler
# returns its answer (the HTTP response), every other handler None.
Handler: TypeAlias = Callable[[FlowContext, Turn], Awaitable["InvokeAnswer | None"]]

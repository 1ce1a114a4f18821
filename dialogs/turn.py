"""One inbound activity, read once at the seam: who, where, what, which keys.

The bridge builds a :class:`Turn` for every activity before any flow runs, so no
handler parses the wire format again, and every handler has the same signature
(``async def handler(ctx, turn)``). The Turn does not keep the raw activity: what a
flow or the trust gate needs of it is a typed field here, read by ``dialogs/activity.py``
(``tests/test_turn_seam.py`` fails on a read of the raw activity below this module).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from cards.actions import Pressed, card_data
from dialogs.activity import (
    PreChat,
    activity_keys,
    bot_added,
    bot_name,
    channel_in,
    channel_of,
    conversation_id,
    conversation_key,
    customer_joined,
    customer_key,
    field,
    mentioned_people,
    mentions_bot,
    offline_shown,
    person_of,
    prechat_of,
    reference_of,
    reply_to,
    shared_phone,
    team_of,
    tenant_of,
    text_for_bot,
    thread_of,
)
from dialogs.attachments import Files, read_files
from dialogs.commands import Command, parse_command
from dialogs.context import FlowContext
from store.channels import facts
from store.views import Person

if TYPE_CHECKING:
    from dialogs.agents import InvokeAnswer


@dataclass(frozen=True)
class Turn:
    """What an inbound activity says, typed; built by :meth:`Turn.of`."""

    kind: str  # the activity's type
    name: str | None  # an invoke's or an event's name
    channel: str  # channelId: msteams, webchat, directline, emulator...
    person: Person  # the sender, as the channel names them
    conversation: str  # the conversation id (a thread's, for a reply in a room)
    conversation_type: str  # Teams: "channel", "groupChat" or "personal"
    thread: str | None  # the room thread a reply was written in, None at the root
    room: str  # the Teams channel written in (a room once set up); meaningless off Teams
    team: str | None  # the Teams team of that channel
    # The channel as the conversation id names it; None where ``channelData`` names
    # another (the trust gate refuses an activity that contradicts itself).
    consistent_room: str | None
    tenant: str | None  # the Teams tenant; None when absent or stated two ways
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
    card: dict[str, Any] | None  # what a pressed button carried (an invoke's or a Submit's)
    plain: bool  # nothing but words: no data of any kind, no attachments
    files: Files  # the attachments: those passed on, and the names of those refused
    reply_to: str | None  # the message this one answers (a pressed card's id)
    # Customers' side: who the customer is, as far as the channel vouches for it
    # (``dialogs/activity.customer_key``), their conversation's digest, what the
    # website's form and widget said, and whether they just opened the chat.
    customer: str
    conversation_key: str
    prechat: PreChat
    offline_shown: bool
    joined: bool
    shared_phone: str | None  # the phone a channel's own form shared (Zalo's user info)
    bot_added: bool  # the bot itself was added (to a team: the welcome)
    command: Command | None = None  # an agent's command, when the words are one
    by_invoke: bool = False  # an invoke: its answer is the HTTP response
    # A card press the trust gate admitted (set by the bridge, which asks the gate).
    pressed: Pressed | None = None

    @classmethod
    def of(
        cls,
        activity: dict[str, Any],
        *,
        known: frozenset[str] = frozenset(),
        token_bound_ids: bool = False,
        max_files: int = FlowContext.max_attachments,
    ) -> Turn:
        """Read ``activity``; ``known`` are the command words an @mention may start;
        ``token_bound_ids`` and ``max_files`` are the flows' settings (``FlowContext``)
        that say who a customer is and how many files one message passes on."""
        kind = str(activity.get("type") or "")
        channel = str(activity.get("channelId") or "")
        addressed = mentions_bot(activity)
        text = text_for_bot(activity)
        value = activity.get("value")
        name = activity.get("name")
        return cls(
            kind=kind,
            name=name if isinstance(name, str) else None,
            channel=channel,
            person=person_of(activity),
            conversation=conversation_id(activity),
            conversation_type=str(field(activity, "conversation").get("conversationType") or ""),
            thread=thread_of(activity),
            room=channel_of(activity),
            team=team_of(activity),
            consistent_room=channel_in(activity),
            tenant=tenant_of(activity),
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
            card=card_data(activity),
            plain=value is None and not activity.get("attachments"),
            # Pictures pasted in Teams (a personal chat too) only Teams can open.
            files=read_files(activity, from_teams=facts(channel).own_files, limit=max_files),
            reply_to=reply_to(activity),
            customer=customer_key(activity, token_bound_ids=token_bound_ids),
            conversation_key=conversation_key(activity),
            prechat=prechat_of(activity),
            offline_shown=offline_shown(activity),
            joined=customer_joined(activity),
            shared_phone=shared_phone(activity),
            bot_added=bot_added(activity),
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


# Every handler's one signature: the flows' context and the turn; an invoke's handler
# returns its answer (the HTTP response), every other handler None.
Handler: TypeAlias = Callable[[FlowContext, Turn], Awaitable["InvokeAnswer | None"]]

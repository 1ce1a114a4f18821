"""The trust gate: what an agent-side activity must prove before any flow runs.

An *agent action* (a command, a card press, availability, the message extension, a
note, a relayed reply, a typing indicator) counts only when it comes from Teams
(``msteams``), in a channel, from an allowed tenant, in a registered room (or one of
its threads) of the team that room belongs to. A card press must also name, by its
public reference, a chat of that room's department. Roles (owner, participant,
supervisor) are then checked by each transition in its own ``WHERE``.

What the channel vouches for is trusted (Teams sets ``from.id``, the tenant, the team
and the channel, and with an app id the Bot Framework token proves the activity came
through the Bot Connector); nothing else is. A refusal is neutral: it names no chat
and no department, and it is logged with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.settings import Settings
from cards.actions import BadAction, CardAction, Pressed, parse_action
from dialogs.turn import Turn
from store import Store
from store.channels import is_teams
from store.trust import ChatPlace, RoomPlace, place_of
from store.vocabulary import Refusal, Refused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admitted:
    """The activity may act: the tenant it proved, and its room (None only for the few
    actions allowed outside a room: setup, help, the bot being added)."""

    tenant: str
    room: RoomPlace | None


def from_teams_channel(turn: Turn) -> bool:
    """Sent in a Teams channel (or a thread of one): the agents' side of the bridge."""
    return is_teams(turn.channel) and turn.conversation_type == "channel"


class Gate:
    """Checks agent-side activities against the database, once per activity."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._configured = settings.allowed_tenants
        self._authenticated = not settings.local_mode

    @property
    def configured_tenants(self) -> frozenset[str]:
        """The tenants the configuration allows (empty: the one the first setup binds)."""
        return self._configured

    @property
    def tenant_unknown(self) -> bool:
        """Authenticated, yet no tenant is configured: setup binds nothing, since the first
        setup would otherwise bind whichever tenant wrote first (trust on first use)."""
        return self._authenticated and not self._configured

    def _tenant_allowed(self, tenant: str, bound: str | None, room: RoomPlace | None) -> bool:
        if self._configured:
            allowed = tenant in self._configured
        elif bound is not None:
            allowed = tenant == bound
        else:
            # No setup has bound the install yet: only setup itself can act here.
            allowed = room is None or room.tenant_id in (None, tenant)
        return allowed and (room is None or room.tenant_id in (None, tenant))

    async def admit(self, turn: Turn, *, needs_room: bool) -> Admitted | Refused:
        """Admit an activity from Teams in the company's tenant (and, if ``needs_room``,
        in a registered room of its team)."""
        admitted, _ = await self._admit(turn, needs_room=needs_room, chat_ref=None)
        return admitted

    async def _admit(
        self, turn: Turn, *, needs_room: bool, chat_ref: str | None
    ) -> tuple[Admitted | Refused, ChatPlace | None]:
        """:meth:`admit`, reading with it (in the same statement) the chat ``chat_ref``
        names. The Turn read the wire-level facts (the tenant, the channel, None where the
        activity states them two ways); proving them is this gate's job."""
        if not from_teams_channel(turn):
            return Refused(Refusal.NOT_A_TEAMS_CHANNEL), None
        tenant = turn.tenant
        if tenant is None:
            return Refused(Refusal.NO_TENANT), None
        channel = turn.consistent_room
        if channel is None:
            return Refused(Refusal.INCONSISTENT_CHANNEL), None
        async with self._store.reading() as tx:
            place = await place_of(tx, channel, chat_ref)
        if not self._tenant_allowed(tenant, place.tenant, place.room):
            return Refused(Refusal.FOREIGN_TENANT), None
        room = place.room
        if room is not None and room.team_id and turn.team != room.team_id:
            return Refused(Refusal.WRONG_TEAM), None
        if needs_room and room is None:
            return Refused(Refusal.NOT_A_ROOM), None
        return Admitted(tenant=tenant, room=room), place.chat

    async def press(self, turn: Turn) -> Pressed | Refused | BadAction:
        """Admit a press on a chat's card: in a room, naming a chat of that room.

        An unknown reference and a chat of another room get the same refusal, so a
        press can never tell whether a chat exists elsewhere.
        """
        try:
            action: CardAction | BadAction = parse_action(turn.card)
        except BadAction as error:
            action = error
        chat_ref = action.chat_ref if isinstance(action, CardAction) else None
        admitted, found = await self._admit(turn, needs_room=True, chat_ref=chat_ref)
        if isinstance(admitted, Refused):
            return admitted
        if isinstance(action, BadAction):
            return action
        assert admitted.room is not None
        if found is None:
            return Refused(Refusal.UNKNOWN_CHAT)
        if found.channel_id != admitted.room.channel_id:
            return Refused(Refusal.CHAT_OF_ANOTHER_ROOM)
        return Pressed(action=action, chat_id=found.chat_id)


def log_refusal(turn: Turn, refused: Refused) -> None:
    """One line per refusal: enough to investigate, nothing a customer wrote."""
    log.warning(
        "refused %s %s from channel %r, conversation %r, sender %r: %s",
        turn.kind,
        turn.name or "",
        turn.channel,
        turn.conversation[:120],
        turn.person.teams_id[:120],
        refused.reason,
    )

"""The bridge: classifies each inbound activity and hands it to the right flow.

Agents' side: activities from a Teams channel (setup, thread replies and
commands, card actions). Customers' side: everything else that is a message,
from any channel (Web Chat, Direct Line, Emulator, Teams personal chat, Skype).
"""

from __future__ import annotations

import logging
from typing import Any

from cards.actions import is_card_action
from dialogs import agents, intake, rooms
from dialogs.activity import is_room_message, text_for_bot, thread_of
from dialogs.agents import InvokeAnswer, unsupported_invoke
from dialogs.context import FlowContext

log = logging.getLogger(__name__)

CARD_ACTION_INVOKE = "adaptiveCard/action"


class Bridge:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    async def handle(self, activity: dict[str, Any]) -> InvokeAnswer | None:
        kind = activity.get("type")
        if kind == "invoke":
            if activity.get("name") != CARD_ACTION_INVOKE:
                return unsupported_invoke(activity.get("name"))
            return await agents.card_action(self.ctx, activity, by_invoke=True)
        if is_room_message(activity):
            await self._room(activity)
        elif kind == "message":
            await intake.customer_message(self.ctx, activity)
        return None

    async def _room(self, activity: dict[str, Any]) -> None:
        kind = activity.get("type")
        if kind == "conversationUpdate":
            await rooms.members_added(self.ctx, activity)
            return
        if kind != "message":
            return
        if is_card_action(activity):
            await agents.card_action(self.ctx, activity, by_invoke=False)
            return
        text = text_for_bot(activity)
        word, _, argument = text.partition(" ")
        if word.lower() == "setup":
            await rooms.setup(self.ctx, activity, argument)
        elif thread_of(activity) is not None:
            await agents.thread_message(self.ctx, activity)

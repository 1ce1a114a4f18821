"""The bridge: classifies each inbound activity and hands it to the right flow.

Agents' side: activities from a Teams channel (setup, thread replies and
commands, card actions). Customers' side: everything else that is a message,
from any channel (Web Chat, Direct Line, Emulator, Teams personal chat, Skype).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.timers import Job
from cards.actions import is_card_action
from dialogs import (
    agents,
    canned,
    extension,
    indicators,
    intake,
    lists,
    notes,
    presence,
    rooms,
    routing,
    tags,
    team,
)
from dialogs.activity import is_room_message, mentions_bot, text_for_bot, thread_of
from dialogs.agents import InvokeAnswer, unsupported_invoke
from dialogs.commands import Command, parse_command
from dialogs.context import FlowContext

log = logging.getLogger(__name__)

CARD_ACTION_INVOKE = "adaptiveCard/action"

CommandHandler = Callable[[FlowContext, dict[str, Any], Command], Awaitable[None]]

# Every command an agent can give in a room, by its word; each handler checks where it
# was given (a thread command at the channel's root is answered with how to use it).
COMMANDS: dict[str, CommandHandler] = {
    "setup": lambda ctx, activity, command: rooms.setup(ctx, activity, command.argument),
    **{
        word: lambda ctx, activity, command: presence.set_availability(ctx, activity, command.word)
        for word in presence.WORDS
    },
    "close": lambda ctx, activity, command: agents.close_command(ctx, activity),
    **{word: team.thread_command for word in team.THREAD_WORDS},
    "chats": lists.chat_list,
    "history": lists.chat_list,
    "supervisor": lists.supervisor,
    "status": lambda ctx, activity, command: presence.status_card(ctx, activity),
    "who": lambda ctx, activity, command: routing.who(ctx, activity),
    "capacity": lambda ctx, activity, command: routing.capacity(ctx, activity, command.argument),
    "move": lambda ctx, activity, command: routing.move(ctx, activity, command.argument),
    "help": lambda ctx, activity, command: agents.help_reply(ctx, activity),
    "canned": canned.manage,
    "tags": tags.manage,
    "tag": lambda ctx, activity, command: tags.tag_command(ctx, activity, command, remove=False),
    "untag": lambda ctx, activity, command: tags.tag_command(ctx, activity, command, remove=True),
    "note": notes.note_command,
}


class Bridge:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def timer_jobs(self) -> list[Job]:
        """What the timers fire when due (each job claims its due rows in the database)."""
        return [
            lambda: team.expire_offers(self.ctx),
            lambda: routing.announce_unanswered(self.ctx),
        ]

    async def handle(self, activity: dict[str, Any]) -> InvokeAnswer | None:
        kind = activity.get("type")
        if kind == "invoke":
            if activity.get("name") == extension.QUERY_INVOKE:
                return await extension.query(self.ctx, activity)
            if activity.get("name") != CARD_ACTION_INVOKE:
                return unsupported_invoke(activity.get("name"))
            if presence.is_availability_action(activity):
                return await presence.availability_action(self.ctx, activity, by_invoke=True)
            return await team.card_action(self.ctx, activity, by_invoke=True)
        if is_room_message(activity):
            await self._room(activity)
        elif kind == "message":
            await intake.customer_message(self.ctx, activity)
        elif kind == "typing":
            await indicators.customer_typing(self.ctx, activity)
        return None

    async def _room(self, activity: dict[str, Any]) -> None:
        kind = activity.get("type")
        if kind == "conversationUpdate":
            await rooms.members_added(self.ctx, activity)
            return
        if kind == "typing":
            await indicators.agent_typing(self.ctx, activity)
            return
        if kind != "message":
            return
        if presence.is_availability_action(activity):
            await presence.availability_action(self.ctx, activity, by_invoke=False)
            return
        if is_card_action(activity):
            await team.card_action(self.ctx, activity, by_invoke=False)
            return
        addressed = mentions_bot(activity)
        command = parse_command(
            text_for_bot(activity), addressed=addressed, known=frozenset(COMMANDS)
        )
        if command is not None:
            handler = COMMANDS.get(command.word)
            if handler is None:
                await agents.unknown_command(self.ctx, activity, command)
            else:
                await handler(self.ctx, activity, command)
        elif thread_of(activity) is not None:
            await agents.thread_message(self.ctx, activity)
        elif addressed:
            await agents.help_reply(self.ctx, activity)

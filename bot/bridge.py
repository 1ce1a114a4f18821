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
from bot.trust import Admitted, Gate, Refused, from_teams_channel, log_refusal
from cards.actions import BadAction, Pressed, is_card_action
from dialogs import (
    agents,
    canned,
    console,
    departments,
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
from dialogs.activity import mentions_bot, text_for_bot, thread_of
from dialogs.agents import InvokeAnswer, error_answer, unsupported_invoke
from dialogs.commands import SETUP, WORDS, Command, parse_command
from dialogs.context import FlowContext
from dialogs.notices import mention_reply

log = logging.getLogger(__name__)

CARD_ACTION_INVOKE = "adaptiveCard/action"

CommandHandler = Callable[[FlowContext, dict[str, Any], Command], Awaitable[None]]

# Every command an agent can give in a room, by its word; each handler checks where it
# was given (a thread command at the channel's root is answered with how to use it).
COMMANDS: dict[str, CommandHandler] = {
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
    "who": lambda ctx, activity, command: departments.who(ctx, activity),
    "capacity": lambda ctx, activity, command: departments.capacity(
        ctx, activity, command.argument
    ),
    "move": lambda ctx, activity, command: routing.move(ctx, activity, command.argument),
    "timezone": lambda ctx, activity, command: departments.time_zone(
        ctx, activity, command.argument
    ),
    "help": lambda ctx, activity, command: agents.help_reply(ctx, activity),
    "canned": canned.manage,
    "tags": tags.manage,
    "tag": lambda ctx, activity, command: tags.tag_command(ctx, activity, command, remove=False),
    "untag": lambda ctx, activity, command: tags.tag_command(ctx, activity, command, remove=True),
    "note": notes.note_command,
    "console": console.console_link,
    "report": console.report,
}


# The words are dialogs.commands.WORDS (canned shortcuts are checked against them too);
# ``setup`` is run by Bridge._room itself, with the tenant the gate admitted.
COMMAND_WORDS = WORDS
if frozenset(COMMANDS) | {SETUP} != COMMAND_WORDS:
    raise RuntimeError(
        f"the command table and dialogs.commands.WORDS differ: "
        f"{sorted((frozenset(COMMANDS) | {SETUP}) ^ COMMAND_WORDS)}"
    )
# Commands that may run in a channel that is not a room yet (in the company's tenant).
OUTSIDE_ROOMS = frozenset({SETUP, "help"})


class Bridge:
    """Classifies each activity, passes the agents' side through the trust gate, and
    hands it to its flow."""

    def __init__(self, ctx: FlowContext, gate: Gate) -> None:
        self.ctx = ctx
        self.gate = gate

    def timer_jobs(self) -> list[Job]:
        """What the timers fire when due (each job claims its due rows in the database)."""
        return [
            lambda: team.expire_offers(self.ctx),
            lambda: routing.announce_unanswered(self.ctx),
        ]

    async def handle(self, activity: dict[str, Any]) -> InvokeAnswer | None:
        kind = activity.get("type")
        if kind == "invoke":
            return await self._invoke(activity)
        if from_teams_channel(activity):
            await self._room(activity)
        elif kind == "message":
            await intake.customer_message(self.ctx, activity)
        elif kind == "typing":
            await indicators.customer_typing(self.ctx, activity)
        return None

    def _refuse(self, activity: dict[str, Any], refused: Refused) -> InvokeAnswer:
        log_refusal(activity, refused)
        return error_answer(403, self.ctx.team_texts("refusal.neutral"))

    async def _invoke(self, activity: dict[str, Any]) -> InvokeAnswer:
        """Invokes come only from agents' Teams: a card press, an availability press or
        the message extension; anything else is refused before a flow sees it."""
        name = activity.get("name")
        if name not in (CARD_ACTION_INVOKE, extension.QUERY_INVOKE):
            return unsupported_invoke(name)
        if name == extension.QUERY_INVOKE or presence.is_availability_action(activity):
            admitted = await self.gate.admit(activity, needs_room=True)
            if isinstance(admitted, Refused):
                return self._refuse(activity, admitted)
            if name == extension.QUERY_INVOKE:
                return await extension.query(self.ctx, activity)
            answer = await presence.availability_action(self.ctx, activity, by_invoke=True)
            return answer or error_answer(400, "unknown availability")
        pressed = await self.gate.press(activity)
        if isinstance(pressed, Refused):
            return self._refuse(activity, pressed)
        if isinstance(pressed, BadAction):
            return error_answer(400, str(pressed))
        answer = await team.card_action(self.ctx, activity, pressed, by_invoke=True)
        return answer or error_answer(404, "no such chat")

    async def _refuse_quietly(self, activity: dict[str, Any], refused: Refused) -> None:
        """A refused message in a channel: logged; the company's own people are told
        neutrally where they addressed the bot, nobody else hears anything."""
        log_refusal(activity, refused)
        if not refused.hint and refused.reason in ("unknown_chat", "chat_of_another_room"):
            await mention_reply(self.ctx, activity, "agent.action_refused")
        elif refused.hint and mentions_bot(activity):
            await mention_reply(self.ctx, activity, "agent.not_a_room")

    async def _room(self, activity: dict[str, Any]) -> None:
        kind = activity.get("type")
        if kind == "conversationUpdate":
            admitted = await self.gate.admit(activity, needs_room=False)
            if isinstance(admitted, Admitted):
                await rooms.members_added(self.ctx, activity)
            else:
                log_refusal(activity, admitted)
            return
        if kind not in ("message", "typing"):
            return
        if kind == "message" and is_card_action(activity):
            pressed = await self.gate.press(activity)
            if isinstance(pressed, Refused):
                await self._refuse_quietly(activity, pressed)
            elif isinstance(pressed, Pressed):
                await team.card_action(self.ctx, activity, pressed, by_invoke=False)
            return
        addressed = mentions_bot(activity)
        command = (
            parse_command(text_for_bot(activity), addressed=addressed, known=COMMAND_WORDS)
            if kind == "message"
            else None
        )
        outside = command is not None and command.word in OUTSIDE_ROOMS
        admitted = await self.gate.admit(activity, needs_room=not outside)
        if isinstance(admitted, Refused):
            await self._refuse_quietly(activity, admitted)
            return
        if kind == "typing":
            await indicators.agent_typing(self.ctx, activity)
        elif presence.is_availability_action(activity):
            await presence.availability_action(self.ctx, activity, by_invoke=False)
        elif command is not None and command.word == SETUP:
            await rooms.setup(
                self.ctx,
                activity,
                command.argument,
                admitted.tenant,
                bind_tenant=not self.gate.configured_tenants,
            )
        elif command is not None:
            handler = COMMANDS.get(command.word)
            if handler is None:
                await agents.unknown_command(self.ctx, activity, command)
            else:
                await handler(self.ctx, activity, command)
        elif thread_of(activity) is not None:
            await agents.thread_message(self.ctx, activity)
        elif addressed:
            await agents.help_reply(self.ctx, activity)

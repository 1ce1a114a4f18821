"""The bridge: classifies each inbound activity and hands it to the right flow.

Agents' side: activities from a Teams channel (setup, thread replies and
commands, card actions). Customers' side: everything else that is a message,
from any channel (Web Chat, Direct Line, Emulator, Teams personal chat, Messenger,
and Zalo, whose webhook hands its events here as activity JSON: ``bot/channels``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.timers import Job
from bot.trust import Admitted, Gate, from_teams_channel, log_refusal
from cards.actions import BadAction, Pressed, is_card_action
from dialogs import (
    agents,
    assignment,
    contacts,
    extension,
    indicators,
    intake,
    presence,
    rooms,
    routing,
    targets,
    team,
)
from dialogs.agents import InvokeAnswer, error_answer, unsupported_invoke
from dialogs.commands import SETUP
from dialogs.context import FlowContext
from dialogs.notices import mention_reply
from dialogs.table import COMMANDS, OUTSIDE_ROOMS, WORDS
from dialogs.turn import Turn
from store.vocabulary import Refusal, Refused

log = logging.getLogger(__name__)

CARD_ACTION_INVOKE = "adaptiveCard/action"


class Bridge:
    """Reads each activity once (a :class:`Turn`), passes the agents' side through the
    trust gate, and hands the turn to its flow."""

    def __init__(self, ctx: FlowContext, gate: Gate) -> None:
        self.ctx = ctx
        self.gate = gate

    def timer_jobs(self) -> list[Job]:
        """What the timers fire when due (each job claims its due rows in the database)."""
        return [
            lambda: team.expire_offers(self.ctx),
            lambda: routing.announce_unanswered(self.ctx),
            lambda: assignment.expire_assignments(self.ctx),
            lambda: targets.fire_targets(self.ctx),
        ]

    async def next_timer(self) -> datetime | None:
        """When the timer jobs next have something to fire (None: nothing is set)."""
        return await routing.next_timer(self.ctx)

    async def handle(self, activity: dict[str, Any]) -> InvokeAnswer | None:
        """The one entry: the turn is read here, and nothing below reads the wire again
        for who, where, which keys or what words."""
        turn = Turn.of(
            activity,
            known=WORDS,
            token_bound_ids=self.ctx.token_bound_ids,
            max_files=self.ctx.max_attachments,
        )
        if turn.by_invoke:
            return await self._invoke(turn)
        if from_teams_channel(turn):
            await self._room(turn)
        elif turn.kind == "message":
            await intake.customer_message(self.ctx, turn)
        elif turn.kind == "typing":
            await indicators.customer_typing(self.ctx, turn)
        elif turn.shared_phone is not None:
            await contacts.shared_contact(self.ctx, turn)
        elif turn.kind in ("conversationUpdate", "event"):
            await intake.customer_joined(self.ctx, turn)
        return None

    def _refuse(self, turn: Turn, refused: Refused) -> InvokeAnswer:
        log_refusal(turn, refused)
        return error_answer(403, self.ctx.team_texts("refusal.neutral"))

    async def _invoke(self, turn: Turn) -> InvokeAnswer:
        """Invokes come only from agents' Teams: a card press, an availability press or
        the message extension; anything else is refused before a flow sees it."""
        name = turn.name
        if name not in (CARD_ACTION_INVOKE, extension.QUERY_INVOKE):
            return unsupported_invoke(name)
        if name == extension.QUERY_INVOKE or presence.is_availability_action(turn):
            admitted = await self.gate.admit(turn, needs_room=True)
            if isinstance(admitted, Refused):
                return self._refuse(turn, admitted)
            if name == extension.QUERY_INVOKE:
                return await extension.query(self.ctx, turn)
            answer = await presence.availability_action(self.ctx, turn)
            return answer or error_answer(400, "unknown availability")
        pressed = await self.gate.press(turn)
        if isinstance(pressed, Refused):
            return self._refuse(turn, pressed)
        if isinstance(pressed, BadAction):
            return error_answer(400, str(pressed))
        answer = await team.card_action(self.ctx, replace(turn, pressed=pressed))
        return answer or error_answer(404, "no such chat")

    async def _refuse_quietly(self, turn: Turn, refused: Refused) -> None:
        """A refused message in a channel: logged; the company's own people are told
        neutrally where they addressed the bot, nobody else hears anything."""
        log_refusal(turn, refused)
        if refused.reason in (Refusal.UNKNOWN_CHAT, Refusal.CHAT_OF_ANOTHER_ROOM):
            await mention_reply(self.ctx, turn, "agent.action_refused")
        elif refused.reason == Refusal.NOT_A_ROOM and turn.addressed:
            await mention_reply(self.ctx, turn, "agent.not_a_room")

    async def _room(self, turn: Turn) -> None:
        if turn.kind == "conversationUpdate":
            admitted = await self.gate.admit(turn, needs_room=False)
            if isinstance(admitted, Admitted):
                await rooms.members_added(self.ctx, turn)
            else:
                log_refusal(turn, admitted)
            return
        if turn.kind not in ("message", "typing"):
            return
        if turn.kind == "message" and is_card_action(turn.card):
            pressed = await self.gate.press(turn)
            if isinstance(pressed, Refused):
                await self._refuse_quietly(turn, pressed)
            elif isinstance(pressed, Pressed):
                await team.card_action(self.ctx, replace(turn, pressed=pressed))
            return
        command = turn.command
        outside = command is not None and command.word in OUTSIDE_ROOMS
        admitted = await self.gate.admit(turn, needs_room=not outside)
        if isinstance(admitted, Refused):
            await self._refuse_quietly(turn, admitted)
            return
        if turn.kind == "typing":
            await indicators.agent_typing(self.ctx, turn)
        elif presence.is_availability_action(turn):
            await presence.availability_action(self.ctx, turn)
        elif command is not None and command.word == SETUP and self.gate.tenant_unknown:
            log_refusal(turn, Refused(Refusal.TENANT_NOT_CONFIGURED))
            await mention_reply(self.ctx, turn, "refusal.setup_tenant_unknown")
        elif command is not None and command.word == SETUP:
            bind_tenant = not self.gate.configured_tenants
            await rooms.setup(self.ctx, turn, admitted.tenant, bind_tenant=bind_tenant)
        elif command is not None:
            await COMMANDS.get(command.word, agents.unknown_command)(self.ctx, turn)
        elif turn.thread is not None:
            await agents.thread_message(self.ctx, turn)
        elif turn.addressed:
            await agents.help_reply(self.ctx, turn)

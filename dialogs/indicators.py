"""Typing indicators, both ways, throttled in the database (at most one per chat and
direction per ``ctx.typing_interval``); the rest is dropped, which is fine for a signal
that only means "someone is writing right now"."""

from __future__ import annotations

from dialogs.context import FlowContext
from dialogs.replies import to_conversation, to_thread
from dialogs.turn import Turn
from store import indicators
from store.indicators import AgentTyping, CustomerTyping, Throttled, Typing, TypingPassed
from store.outbox import Outgoing

TYPING = {"type": "typing"}


def notify_typing(outcome: TypingPassed | Throttled) -> list[Outgoing]:
    """A passed indicator goes to the customer (an agent's) or to the chat's thread."""
    match outcome:
        case TypingPassed(chat_id, None):
            return [to_thread(chat_id, dict(TYPING))]
        case TypingPassed(_, reference) if reference is not None:
            return [to_conversation(reference, dict(TYPING))]
    return []


async def _pass_on(ctx: FlowContext, typing: Typing) -> None:
    """Most typing is turned away by a read outside the writers' queue; what may be due
    takes a unit, whose upsert lets only one replica pass it on."""
    async with ctx.store.reading() as tx:
        due = await indicators.check_typing(tx, typing, ctx.typing_interval)
    if due:
        async with ctx.store.unit() as tx:
            outcome = await indicators.do_typing(tx, typing, ctx.typing_interval)
            tx.enqueue(notify_typing(outcome))


async def customer_typing(ctx: FlowContext, turn: Turn) -> None:
    """A customer is typing: show it in their chat's thread."""
    user = turn.customer
    await _pass_on(ctx, CustomerTyping(turn.channel, user))


async def agent_typing(ctx: FlowContext, turn: Turn) -> None:
    """A participant is typing in a chat's thread: show it to the customer."""
    if turn.thread is not None:
        await _pass_on(ctx, AgentTyping(turn.thread, turn.person))

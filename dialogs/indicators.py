"""Typing indicators, both ways, throttled in the database (at most one per chat and
direction per ``ctx.typing_interval``); the rest is dropped, which is fine for a signal
that only means "someone is writing right now"."""

from __future__ import annotations

from typing import Any

from dialogs.activity import customer_key, person_of, thread_of
from dialogs.context import FlowContext
from dialogs.replies import to_conversation, to_thread
from store import indicators
from store.indicators import Throttled, TypingPassed
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


async def customer_typing(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """A customer is typing: show it in their chat's thread."""
    channel = str(activity.get("channelId") or "")
    user = customer_key(activity, token_bound_ids=ctx.token_bound_ids)
    interval = ctx.typing_interval
    async with ctx.store.reading() as tx:
        due = await indicators.check_customer_typing(tx, channel, user, interval)
    if due:
        async with ctx.store.unit() as tx:
            outcome = await indicators.do_customer_typing(tx, channel, user, interval)
            tx.enqueue(notify_typing(outcome))


async def agent_typing(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """A participant is typing in a chat's thread: show it to the customer."""
    thread = thread_of(activity)
    if thread is None:
        return
    person = person_of(activity)
    interval = ctx.typing_interval
    async with ctx.store.reading() as tx:
        due = await indicators.check_agent_typing(tx, thread, person, interval)
    if due:
        async with ctx.store.unit() as tx:
            outcome = await indicators.do_agent_typing(tx, thread, person, interval)
            tx.enqueue(notify_typing(outcome))

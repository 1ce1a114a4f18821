"""Typing indicators, both ways, throttled in the database (at most one per chat and
direction per ``ctx.typing_interval``); the rest is dropped, which is fine for a signal
that only means "someone is writing right now"."""

from __future__ import annotations

from typing import Any

from dialogs.activity import customer_key, person_of, thread_of
from dialogs.context import FlowContext
from dialogs.replies import to_conversation, to_thread
from store.outbox import Outgoing

TYPING = {"type": "typing"}


async def customer_typing(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """A customer is typing: show it in their chat's thread."""

    def compose(chat_id: int) -> list[Outgoing]:
        return [to_thread(chat_id, dict(TYPING))]

    await ctx.store.customer_typing(
        str(activity.get("channelId") or ""),
        customer_key(activity, token_bound_ids=ctx.token_bound_ids),
        ctx.typing_interval,
        compose,
    )


async def agent_typing(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """A participant is typing in a chat's thread: show it to the customer."""
    thread = thread_of(activity)
    if thread is None:
        return

    def compose(reference: dict[str, Any]) -> list[Outgoing]:
        return [to_conversation(reference, dict(TYPING))]

    await ctx.store.agent_typing(thread, person_of(activity), ctx.typing_interval, compose)

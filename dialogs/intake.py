"""The customer's side: every message is stored; the first one opens a chat."""

from __future__ import annotations

from typing import Any

from cards.request import card_activity, request_card
from dialogs.activity import activity_keys, display_name, field, reference_of
from dialogs.context import FlowContext
from dialogs.replies import new_thread, text_activity, to_conversation, to_thread
from store.chats import CustomerTurn, FloodLimit
from store.core import ChatView
from store.outbox import Outgoing


async def customer_message(ctx: FlowContext, activity: dict[str, Any]) -> None:
    sender = field(activity, "from")
    reference = reference_of(activity)
    t = ctx.customer_texts(activity.get("locale"))
    team = ctx.team_texts
    text = str(activity.get("text") or "")
    name = display_name(sender)
    keys = activity_keys(activity)
    if not text.strip():
        await ctx.store.notify(
            keys, [to_conversation(reference, text_activity(t("customer.unsupported")))]
        )
        return
    if len(text) > ctx.max_text_length:
        notice = t("customer.too_long", length=len(text), limit=ctx.max_text_length)
        await ctx.store.notify(keys, [to_conversation(reference, text_activity(notice))])
        return
    turn = CustomerTurn(
        channel_id=str(activity.get("channelId") or ""),
        user_id=str(sender.get("id")),
        name=name,
        locale=t.language,
        reference=reference,
        text=text,
        source_key=keys[0] if keys else None,
    )

    def on_open(chat: ChatView) -> list[Outgoing]:
        if chat.room_reference is None:
            return [to_conversation(reference, text_activity(t("customer.no_room", name=name)))]
        card = request_card(chat, team)
        return [
            to_conversation(reference, text_activity(t("customer.ack", name=name))),
            new_thread(chat.id, chat.room_reference, card_activity(card, team("card.new_chat"))),
        ]

    def on_append(chat_id: int, routed: bool) -> list[Outgoing]:
        if not routed:
            return []
        return [
            to_thread(chat_id, text_activity(team("agent.customer_says", name=name, text=text)))
        ]

    def on_flood() -> list[Outgoing]:
        return [to_conversation(reference, text_activity(t("customer.too_fast")))]

    await ctx.store.customer_message(
        turn,
        keys,
        on_open=on_open,
        on_append=on_append,
        flood=FloodLimit(ctx.flood_messages, ctx.flood_window),
        on_flood=on_flood,
    )

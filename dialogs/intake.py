"""The customer's side: every message is stored; the first one opens a chat."""

from __future__ import annotations

from typing import Any

from cards.request import card_activity, request_card
from dialogs.activity import activity_keys, display_name, field, reference_of
from dialogs.attachments import Files, as_attachments, links, read_files, stored_text
from dialogs.context import FlowContext
from dialogs.i18n import Texts
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
    # A customer writing from Teams (a personal chat) pastes pictures that only Teams can open.
    from_teams = activity.get("channelId") == "msteams"
    files = read_files(activity, from_teams=from_teams, limit=ctx.max_attachments)
    refusal = (
        [to_conversation(reference, text_activity(_refused(t, files, ctx.max_attachments)))]
        if files.refused
        else []
    )
    if not text.strip() and not files.passed:
        unsupported = [to_conversation(reference, text_activity(t("customer.unsupported")))]
        await ctx.store.notify(keys, refusal or unsupported)
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
        text=stored_text(text, files.passed),
        source_key=keys[0] if keys else None,
        attachments=files.passed,
    )

    def shown_files(chat_id: int) -> list[Outgoing]:
        if not files.passed:
            return []
        shown = team("agent.customer_files", name=name, files=links(files.passed))
        activity = text_activity(shown)
        activity["attachments"] = as_attachments(files.passed, images_only=True)
        return [to_thread(chat_id, activity)]

    def on_open(chat: ChatView) -> list[Outgoing]:
        if chat.room_reference is None:
            no_room = text_activity(t("customer.no_room", name=name))
            return [to_conversation(reference, no_room), *refusal]
        card = request_card(chat, team)
        return [
            to_conversation(reference, text_activity(t("customer.ack", name=name))),
            new_thread(chat.id, chat.room_reference, card_activity(card, team("card.new_chat"))),
            *shown_files(chat.id),
            *refusal,
        ]

    def on_append(chat_id: int, routed: bool) -> list[Outgoing]:
        if not routed:
            return refusal
        says = [
            to_thread(chat_id, text_activity(team("agent.customer_says", name=name, text=text)))
        ]
        return [*(says if text.strip() else []), *shown_files(chat_id), *refusal]

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


def _refused(t: Texts, files: Files, limit: int) -> str:
    return t("customer.files_refused", files=", ".join(files.refused), limit=limit)

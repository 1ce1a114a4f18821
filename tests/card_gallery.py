"""Every request card the story sends, in each state and each reader's view, in both
languages: what the card tests check and what ``cardshot`` renders for people to look at.

``python -m tests.card_gallery build/screenshots/cards.json`` writes them for cardshot.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cards.departments import availability_card, department_choice
from cards.firstbot import bot_part_card
from cards.rating import comment_card, rated_card, rating_card
from cards.request import request_card
from cards.team import offer_card, picker_card
from dialogs.i18n import Texts
from store.models import ChatState, OfferKind, OfferState, ParticipantRole
from store.offers import OfferView
from store.views import ChatView, Member, Person

OWNER = Person("29:minh", "Minh Anh")
INVITED = Person("29:hung", "Hùng")
SUPERVISOR = Person("29:mai", "Nguyễn Thị Mai")
STRANGER = "29:someone"
OPENED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NOW = OPENED + timedelta(minutes=3, seconds=12)
REF = "Q2hhdC1yZWYtMDAwMDA3"  # a chat's public reference, as cards carry it


def plain_chat(state: ChatState, **changes: Any) -> ChatView:
    """A short chat from the website with no participants, tags or history, for tests of
    one part of a card; ``changes`` set any other field."""
    chat = ChatView(
        id=7,
        ref=REF,
        state=state,
        department="Support",
        customer_name="Lan <b>",
        customer_channel="webchat",
        customer_locale="vi",
        customer_reference={},
        owner_name="Minh" if state != ChatState.WAITING else None,
        owner_teams_id="29:minh" if state != ChatState.WAITING else None,
        closed_by_teams_id=None,
        thread_id=None,
        room_reference=None,
        created_at=OPENED,
        accepted_at=OPENED,
        closed_at=OPENED + timedelta(minutes=12, seconds=5) if state == ChatState.CLOSED else None,
        message_count=9,
        first_messages=("xin chào",),
    )
    return replace(chat, **changes)


def story_chat(state: ChatState, *, returning: bool = True) -> ChatView:
    """Lan's chat from the website, with a long question, tags and a returning history."""
    active = state != ChatState.WAITING
    members = (Member(OWNER, ParticipantRole.OWNER), Member(INVITED, ParticipantRole.INVITED))
    return plain_chat(
        state,
        id=42,
        ref="Q2hhdC1yZWYtMDAwMDQy",
        department="Chăm sóc khách hàng",
        customer_name="Trần Thị Lan",
        owner_name=OWNER.name if active else None,
        owner_teams_id=OWNER.teams_id if active else None,
        closed_by_teams_id=OWNER.teams_id if state == ChatState.CLOSED else None,
        thread_id="19:room;messageid=1",
        room_reference={},
        accepted_at=OPENED + timedelta(minutes=1) if active else None,
        message_count=14,
        first_messages=(
            "Chào shop, đơn hàng #A1234 của em đặt từ thứ Hai mà đến giờ vẫn chưa giao, "
            "shop kiểm tra giúp em với ạ",
            "Chăm sóc khách hàng",
        ),
        participants=members if active and state != ChatState.CLOSED else (),
        tags=("giao-hàng",) if active else (),
        department_tags=("giao-hàng", "hóa-đơn", "đổi-trả"),
        earlier_chats=((17, "Q2hhdC1yZWYtMDAwMDE3"), (9, "Q2hhdC1yZWYtMDAwMDA5"))
        if returning
        else (),
        earlier_owner="Minh Anh" if returning else None,
        supervisors=(SUPERVISOR.teams_id,),
    )


VIEWERS = {
    "shared": None,
    "owner": OWNER.teams_id,
    "invited": INVITED.teams_id,
    "supervisor": SUPERVISOR.teams_id,
    "stranger": STRANGER,
}


def gallery() -> list[dict[str, Any]]:
    """(name, card) for every state, viewer and language."""
    cards = []
    for language in ("vi", "en"):
        t = Texts(language)
        for state in ChatState:
            for viewer, teams_id in VIEWERS.items():
                chat = story_chat(state)
                if state == ChatState.WAITING and viewer == "supervisor":
                    chat = replace(chat, participants=())
                card = request_card(
                    chat, t, now=NOW, viewer=teams_id, links=lambda ref: f"https://x.test/t/{ref}"
                )
                name = f"request-{state.value}-{viewer}-{language}"
                cards.append({"name": name, "card": json.loads(json.dumps(card))})
    return cards


def other_cards() -> list[dict[str, Any]]:
    """The story's other cards: the department question (where there are no quick
    replies), the colleague picker, an invitation and a transfer as their recipient sees
    them, the availability card, the customer's rating cards."""
    few = (("support", "Chăm sóc khách hàng"), ("sales", "Kinh doanh"))
    many = (*few, ("billing", "Thanh toán"), ("tech", "Kỹ thuật"), ("returns", "Đổi trả"))
    chat = story_chat(ChatState.ACTIVE)
    cards = []
    for language in ("vi", "en"):
        t = Texts(language)
        question = t("customer.choose_department"), t("customer.choose_department_hint")
        choose = t("customer.choose_button")
        shown = {
            "departments-2": department_choice(few, *question, "skype", choose),
            "departments-5": department_choice(many, *question, "skype", choose),
        }
        built = {name: activity["attachments"][0]["content"] for name, activity in shown.items()}
        built["picker"] = picker_card(chat, "transfer", [INVITED, SUPERVISOR], t)
        for kind in OfferKind:
            offer = OfferView(1, kind, OfferState.PENDING, OWNER, INVITED)
            built[f"offer-{kind.value}"] = offer_card(chat, offer, t, viewer=INVITED.teams_id)
        built["availability"] = availability_card("online", t)
        # The customer's rating, asked once: the question (with the transcript by mail),
        # the comment offered after the score, the question locked once answered.
        built["rating"] = rating_card(chat.ref, t, transcript=True)
        built["rating-comment"] = comment_card(chat.ref, t)
        built["rating-locked"] = rated_card(4, t)
        built.update(first_bot_cards(t))
        cards += [
            {"name": f"{name}-{language}", "card": json.loads(json.dumps(card))}
            for name, card in built.items()
        ]
    return cards


# What a Copilot Studio bot hands over (customer text: markup in it must show as written).
BOT_CONTEXT = {
    "va_AgentMessage": "Khách muốn hoàn tiền đơn 123 <b>gấp</b> *ngay*",
    "va_LastTopic": "Hoàn tiền",
    "va_LastPhrases": ["Tôi muốn hoàn tiền", "đơn 123"],
    "va_Language": "vi-VN",
    "reason": "handoff",
}
BOT_LINES = (
    (False, "Xin chào"),
    (True, "Chào Quý khách, em là bot của cửa hàng. Em giúp gì được ạ?"),
    (False, "Tôi muốn hoàn tiền đơn 123 **ngay**"),
    (True, "Em chuyển cho nhân viên ạ."),
)


def first_bot_cards(t: Texts) -> dict[str, dict[str, Any]]:
    """A chat the company's bot handed over (its context on the card; one that timed out),
    and the bot's part of the chat, folded, as the thread shows it."""
    waiting = story_chat(ChatState.WAITING, returning=False)
    handed = replace(waiting, bot_context=BOT_CONTEXT, participants=())
    timed_out = replace(waiting, bot_context={"reason": "timeout"}, participants=())
    return {
        "first-bot-handed": request_card(handed, t, now=NOW),
        "first-bot-timeout": request_card(timed_out, t, now=NOW),
        "first-bot-part": bot_part_card(BOT_LINES, "Lan", t),
    }


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/screenshots/cards.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    cards = gallery() + other_cards()
    out.write_text(json.dumps(cards, ensure_ascii=False, indent=1), encoding="utf-8")
    print(out)

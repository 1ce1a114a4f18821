"""The request card as each reader sees it, read the way a phone shows it: the state
first, at most three buttons whose labels fit at 360 px, the question before the facts,
human channel names, and a notification that says what the customer wants."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from cards.request import channel_name, request_card, summary
from dialogs.i18n import Texts
from store.models import ChatState
from tests.card_gallery import (
    INVITED,
    NOW,
    OWNER,
    STRANGER,
    SUPERVISOR,
    gallery,
    other_cards,
    story_chat,
)
from tests.test_bridge import card_text as text

PHONE_WIDTH = 360
# Teams on a phone: 16 px card padding each side, 8 px between buttons, 12 px inside
# each button; Segoe UI 14 px. A rough width per character is enough to catch a label
# that cannot fit (the cardshot tool renders the real thing for people to look at).
CARD_PADDING, BUTTON_GAP, BUTTON_PADDING = 16, 8, 12
_NARROW, _WIDE = set("iljtfr.,:;'| "), set("mwMWĐ")


def label_width(label: str) -> float:
    width = 0.0
    for char in unicodedata.normalize("NFD", label):
        if unicodedata.combining(char):
            continue  # Vietnamese marks sit above or below their letter
        width += (
            4.0 if char in _NARROW else 12.0 if char in _WIDE else 8.5 if char.isupper() else 7.5
        )
    return width


def primary(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in card.get("actions", []) if a.get("mode") != "secondary"]


def fits_a_phone(card: dict[str, Any]) -> None:
    """At most three buttons, each label whole at 360 px."""
    buttons = primary(card)
    assert len(buttons) <= 3, [b["title"] for b in buttons]
    # The "..." menu takes a slot of its own when there are secondary actions.
    slots = len(buttons) + (1 if len(buttons) < len(card.get("actions", [])) else 0)
    if slots:
        room = (PHONE_WIDTH - 2 * CARD_PADDING - (slots - 1) * BUTTON_GAP) / slots
        for button in buttons:
            assert label_width(button["title"]) + 2 * BUTTON_PADDING <= room, button["title"]


@pytest.mark.parametrize("shown", other_cards(), ids=lambda shown: shown["name"])
def test_the_story_s_other_cards_fit_a_phone(shown: dict[str, Any]) -> None:
    fits_a_phone(shown["card"])
    assert shown["card"]["version"] == "1.5"


@pytest.mark.parametrize("shown", gallery(), ids=lambda shown: shown["name"])
def test_every_view_fits_a_phone_with_the_state_first(shown: dict[str, Any]) -> None:
    card = shown["card"]
    fits_a_phone(card)
    first = card["body"][0]
    assert first["type"] == "Container" and first["style"] in ("warning", "good", "emphasis")
    assert first["items"][0]["weight"] == "Bolder"
    # The question comes right after the state (and a note, if any), before the facts.
    kinds = [e["type"] for e in card["body"]]
    assert kinds.index("FactSet") > 1 and card["body"][1]["text"].startswith("Chào shop")
    assert card["version"] == "1.5"


VIEWS = {
    (ChatState.WAITING, None): ["accept"],
    (ChatState.WAITING, STRANGER): ["accept"],
    (ChatState.WAITING, SUPERVISOR.teams_id): ["accept", "join", "tag"],
    (ChatState.ACTIVE, None): [],
    (ChatState.ACTIVE, STRANGER): [],
    (ChatState.ACTIVE, OWNER.teams_id): ["close", "transfer", "invite", "tag"],
    (ChatState.ACTIVE, INVITED.teams_id): ["invite", "leave", "tag"],
    (ChatState.ACTIVE, SUPERVISOR.teams_id): ["join", "close", "tag"],
    (ChatState.CLOSED, OWNER.teams_id): ["Action.OpenUrl"],
}


@pytest.mark.parametrize(("state", "viewer"), list(VIEWS))
def test_each_role_sees_its_own_buttons(state: ChatState, viewer: str | None) -> None:
    chat = story_chat(state)
    card = request_card(chat, Texts("en"), now=NOW, viewer=viewer, links=lambda ref: "https://x")
    assert [a.get("verb") or a["type"] for a in card.get("actions", [])] == VIEWS[state, viewer]


def test_open_cards_ask_teams_for_each_participant_and_supervisor_view() -> None:
    card = request_card(story_chat(ChatState.ACTIVE), Texts("en"), now=NOW)
    refresh = card["refresh"]
    assert refresh["userIds"] == [OWNER.teams_id, INVITED.teams_id, SUPERVISOR.teams_id]
    assert refresh["action"]["type"] == "Action.Execute"
    assert refresh["action"]["data"] == {
        "action": "refresh",
        "chat": "Q2hhdC1yZWYtMDAwMDQy",
    }
    closed = request_card(story_chat(ChatState.CLOSED), Texts("en"), now=NOW)
    assert "refresh" not in closed


@pytest.mark.parametrize(
    ("state", "language", "headline"),
    [
        (ChatState.WAITING, "en", "Waiting · 3 minutes"),
        (ChatState.WAITING, "vi", "Đang chờ · 3 phút"),
        (ChatState.ACTIVE, "en", "Minh Anh is helping"),
        (ChatState.ACTIVE, "vi", "Minh Anh đang hỗ trợ"),
        (ChatState.CLOSED, "en", "Closed · 12 minutes"),
        (ChatState.CLOSED, "vi", "Đã kết thúc · 12 phút"),
    ],
)
def test_the_state_is_the_headline(state: ChatState, language: str, headline: str) -> None:
    card = request_card(story_chat(state), Texts(language), now=NOW)
    assert card["body"][0]["items"][0]["text"] == headline


def test_the_question_stays_and_the_typed_department_is_not_a_message() -> None:
    for state in ChatState:
        shown = text(request_card(story_chat(state), Texts("en"), now=NOW))
        assert "đơn hàng #A1234" in shown
        # "Chăm sóc khách hàng" was the answer to the department question: a fact only.
        assert shown.count("Chăm sóc khách hàng") == 1


def test_the_notification_says_what_the_customer_wants() -> None:
    said = summary(story_chat(ChatState.WAITING))
    assert said.startswith("Trần Thị Lan: Chào shop, đơn hàng #A1234")
    assert len(said) <= len("Trần Thị Lan: ") + 80 and said.endswith("…")


def test_channels_have_human_names() -> None:
    assert channel_name("webchat") == "Website" and channel_name("directline") == "Website"
    assert channel_name("msteams") == "Teams" and channel_name("emulator") == "Emulator"
    assert channel_name("kakao") == "Kakao"
    assert "webchat" not in text(request_card(story_chat(ChatState.WAITING), Texts("en"), now=NOW))
    assert channel_name("zalo") == "Zalo" and channel_name("facebook") == "Messenger"


def test_returning_history_is_near_the_top_and_survives_redraws() -> None:
    for state in ChatState:
        card = request_card(
            story_chat(state), Texts("en"), now=NOW, links=lambda r: f"https://x/{r}"
        )
        facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
        assert facts[1] == {"title": "Returning", "value": "2 earlier chat(s), last with Minh Anh"}
        assert "https://x/Q2hhdC1yZWYtMDAwMDE3" in text(card)


def test_long_or_many_departments_are_a_list_with_one_button() -> None:
    many = next(c["card"] for c in other_cards() if c["name"] == "departments-5-vi")
    [choices] = [e for e in many["body"] if e["type"] == "Input.ChoiceSet"]
    # Web Chat sends the input with the Submit's data: {"action": "department", "department": key}
    assert choices["id"] == "department" and len(choices["choices"]) == 5
    assert [a["data"] for a in many["actions"]] == [{"action": "department"}]
    assert many["actions"][0]["title"] == "Chọn"

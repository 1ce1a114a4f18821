"""Pure parts: locale files complete in every language, cards within Adaptive Cards 1.5,
the action parser, transcript tokens."""

from __future__ import annotations

import json
import string
from dataclasses import replace

import pytest

from bot.transcript import TranscriptLinks
from cards.actions import BadAction, card_data, parse_action
from cards.request import request_card
from dialogs.activity import tenant_of, text_for_bot
from dialogs.i18n import Texts, catalog, languages, pick_language
from store.models import ChatState
from tests.card_gallery import REF, plain_chat


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_text_with_the_same_placeholders() -> None:
    assert {"en", "vi"} <= set(languages())
    english = catalog("en")
    for language in languages():
        texts = catalog(language)
        assert set(texts) == set(english), f"{language}: {set(english) ^ set(texts)}"
        for key, template in texts.items():
            assert fields(template) == fields(english[key]), f"{language}:{key}"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("vi-VN", "vi"), ("vi", "vi"), ("en-US", "en"), ("fr-FR", "en"), (None, "en"), ("", "en")],
)
def test_language_from_locale(locale: str | None, expected: str) -> None:
    assert pick_language(locale, "en") == expected


@pytest.mark.parametrize("state", list(ChatState))
def test_cards_are_plain_json_version_1_5_with_the_right_buttons(state: ChatState) -> None:
    card = json.loads(
        json.dumps(
            request_card(
                plain_chat(state), Texts("en"), viewer="29:minh", links=lambda ref: "https://x/t"
            )
        )
    )
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    kinds = [(a["type"], a.get("verb")) for a in card.get("actions", [])]
    expected = {
        ChatState.WAITING: [("Action.Execute", "accept")],
        ChatState.ACTIVE: [("Action.Execute", verb) for verb in ("close", "transfer", "invite")],
        ChatState.CLOSED: [("Action.OpenUrl", None)],
    }[state]
    assert kinds == expected
    for action in card.get("actions", []):
        if action["type"] == "Action.Execute":
            assert action["data"] == {"action": action["verb"], "chat": REF}
            assert action["fallback"]["type"] == "Action.Submit"
            assert action["fallback"]["data"] == action["data"]
    if state == ChatState.CLOSED:
        assert card["body"][0]["items"][0]["text"] == "Closed · 12 minutes"


def test_buttons_carry_no_card_version_and_an_old_cards_is_ignored() -> None:
    """Every change decides on the chat as it is now (in its WHERE), so a button names
    only the verb and the chat; a version that older cards still send is not read."""
    card = request_card(plain_chat(ChatState.WAITING), Texts("en"))
    assert card["actions"] and all("v" not in action["data"] for action in card["actions"])
    old = {"action": "accept", "chat": REF, "v": "anything"}
    pressed = parse_action(card_data({"type": "message", "value": old}))
    assert (pressed.verb, pressed.chat_ref) == ("accept", REF)


def test_action_parser_reads_execute_and_submit_alike() -> None:
    data = {"action": "accept", "chat": REF}
    invoke = {
        "type": "invoke",
        "value": {"action": {"type": "Action.Execute", "verb": "accept", "data": data}},
    }
    submit = {"type": "message", "value": data}
    assert parse_action(card_data(invoke)) == parse_action(card_data(submit))


@pytest.mark.parametrize(
    "value",
    [
        None,
        "x",
        {},
        {"action": "explode", "chat": REF},
        {"action": "accept"},
        {"action": "accept", "chat": 1},
        {"action": "accept", "chat": "1"},
        {"action": "accept", "chat": REF + "/../x"},
        {"action": "accept", "chat": True},
    ],
)
def test_action_parser_rejects_tampered_data(value: object) -> None:
    with pytest.raises(BadAction):
        parse_action(card_data({"type": "message", "value": value}))


def test_only_the_bots_mention_is_removed() -> None:
    activity = {
        "text": "<at>SupportBot</at> ask <at>Hoa</at> about  order #5 ",
        "recipient": {"id": "bot"},
        "entities": [
            {"type": "mention", "text": "<at>SupportBot</at>", "mentioned": {"id": "bot"}},
            {"type": "mention", "text": "<at>Hoa</at>", "mentioned": {"id": "hoa"}},
        ],
    }
    assert text_for_bot(activity) == "ask <at>Hoa</at> about  order #5"


def test_transcript_tokens() -> None:
    links = TranscriptLinks("secret", "https://bridge.example/", 3600)
    token = links.token(REF, now=1000)
    assert links.valid(REF, token, now=2000)
    assert not links.valid(REF, token, now=5000)
    assert not links.valid(REF[::-1], token, now=2000)
    assert not TranscriptLinks("other", "https://bridge.example", 3600).valid(REF, token, now=2000)
    assert links.url(REF).startswith(f"https://bridge.example/transcripts/{REF}?token=")


@pytest.mark.parametrize(
    "token",
    ["", ".", "²", "²." + "a" * 64, "9" * 5000 + "." + "a" * 64, "1.xyz", "1." + "A" * 64, "1 .x"],
)
def test_transcript_tokens_that_are_not_tokens_are_invalid_and_never_raise(token: str) -> None:
    assert not TranscriptLinks("secret", "https://bridge.example", 3600).valid(REF, token)


@pytest.mark.parametrize("stated", [[], ["t"], {"id": "t"}, 7, ""])
def test_a_tenant_that_is_not_a_string_is_no_tenant(stated: object) -> None:
    activity = {"conversation": {"tenantId": "t"}, "channelData": {"tenant": {"id": stated}}}
    assert tenant_of(activity) is None
    assert (
        tenant_of({"conversation": {"tenantId": "t"}, "channelData": {"tenant": {"id": "t"}}})
        == "t"
    )


def test_a_closed_chats_card_shows_its_rating_on_every_redraw() -> None:
    rated = replace(plain_chat(ChatState.CLOSED), rating=(4, "**fast**, thanks"))
    shown = json.dumps(request_card(rated, Texts("en")), ensure_ascii=False)
    assert "★★★★☆ 4/5" in shown
    assert "\\\\*\\\\*fast\\\\*\\\\*" in shown  # the customer's comment, escaped
    assert "★" not in json.dumps(request_card(plain_chat(ChatState.CLOSED), Texts("en")))

"""The store's vocabulary travels as JSON (logs, outbox payloads) and comes back equal."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from dialogs.i18n import Texts
from store.outbox import Outgoing
from store.vocabulary import (
    ChatEvent,
    CreateThread,
    OutboxKind,
    Payload,
    Refusal,
    Refused,
    Send,
    SendPersonal,
    UpdateCard,
    read_payload,
)


@pytest.mark.parametrize("reason", list(Refusal))
def test_a_refusal_round_trips_through_json(reason: Refusal) -> None:
    said = json.loads(json.dumps({"reason": reason}))
    assert Refusal(said["reason"]) is reason
    assert said["reason"] == reason.value == str(reason)


def test_a_refused_outcome_round_trips_through_json() -> None:
    refused = Refused(Refusal.NOT_SUPERVISOR, department="Support")
    again = Refused(**json.loads(json.dumps(asdict(refused))))
    assert again == Refused(Refusal(again.reason), department="Support") == refused


@pytest.mark.parametrize(
    "key",
    [
        *(
            f"csat.{reason}"
            for reason in (Refusal.ALREADY_RATED, Refusal.RATING_TOO_LATE, Refusal.NOTHING_TO_RATE)
        ),
        *(f"refusal.setup_{reason}" for reason in (Refusal.NOT_SUPERVISOR, Refusal.CHANNEL_TAKEN)),
    ],
)
def test_a_reason_said_by_its_value_has_that_text_in_both_languages(key: str) -> None:
    """Dialogs say rating and setup refusals under a key made of the reason's value."""
    for language in ("vi", "en"):
        assert Texts(language)(key, mention="Minh Anh", department="Support") != key


def test_every_reason_is_said_once() -> None:
    values = [reason.value for reason in Refusal]
    assert len(values) == len(set(values))
    assert all(value == value.lower() and " " not in value for value in values)


@pytest.mark.parametrize("event", list(ChatEvent))
def test_a_chat_event_round_trips_through_json_and_is_shown_in_both_languages(
    event: ChatEvent,
) -> None:
    said = json.loads(json.dumps({"text": event}))
    assert ChatEvent(said["text"]) is event
    # The transcript page shows the event under its own key in the reader's language.
    for language in ("vi", "en"):
        shown = Texts(language)(f"event.{event.value}", author="Minh Anh")
        assert "Minh Anh" in shown and event.value not in shown


ROOM = {"serviceUrl": "https://smba.test", "conversation": {"id": "19:room@thread.tacv2"}}
CARD = {"type": "message", "attachments": [{"contentType": "card", "content": {"body": []}}]}
CUSTOMER = {"channelId": "webchat", "conversation": {"id": "conv-1"}}


@pytest.mark.parametrize(
    "payload",
    [
        Send({"type": "message", "text": "Chào"}, conversation=CUSTOMER),
        Send({"type": "message", "text": "**Lan:** hi"}, chat_id=7, words="customer"),
        Send({"type": "typing"}, chat_id=7),
        SendPersonal(ROOM, {"id": "29:minh"}, {"type": "message", "text": "link"}),
        CreateThread(7, ROOM, CARD),
        UpdateCard(7, CARD),
    ],
    ids=lambda payload: type(payload).__name__,
)
def test_an_outbox_payload_round_trips_through_json(payload: Payload) -> None:
    """What the outbox row keeps (kind and JSON) reads back as the payload it was."""
    queued = Outgoing.of("lane", payload)
    stored = json.loads(json.dumps(queued.payload))
    assert read_payload(queued.kind, stored) == payload
    assert OutboxKind(queued.kind) is payload.kind
    assert None not in stored.values()


def test_an_unknown_outbox_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        read_payload("fax", {"activity": {}})

"""Cards of routing: the customer's choice of department, the agents' availability, and
the sections a request card gains (who is @mentioned, a returning customer's history)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cards.envelope import adaptive_card
from cards.markdown import mention_entity
from cards.request import TextLookup, attachment
from store.channels import facts

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.core import Person

CHOOSE_DEPARTMENT = "department"
MAX_BUTTONS = 3  # side by side on a phone
BUTTON_ROW_CHARS = 30  # about what a row of buttons holds at 360 px before labels are cut
SET_AVAILABILITY = "availability"


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    return adaptive_card(body, actions)


def department_choice(
    departments: tuple[tuple[str, str], ...],
    question: str,
    hint: str,
    channel: str = "",
    choose: str = "OK",
) -> dict[str, Any]:
    """The customer's question, asked once: quick replies where the channel has them, a
    card with one ``Action.Submit`` per department where it has not.

    Web Chat has no ``Action.Execute``; a Submit comes back as a message whose
    ``value`` is the button's data; a quick reply comes back as the department's name.
    """
    shown = facts(channel)
    # Quick replies where the channel shows them; a channel with neither quick replies nor
    # cards gets them too: its sender writes them out as lines to answer with.
    if shown.quick_replies or not shown.cards:
        return {
            "type": "message",
            "text": f"{question}\n\n{hint}",
            "suggestedActions": {
                "actions": [
                    {"type": "imBack", "title": name, "value": name} for _, name in departments
                ]
            },
        }
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": question, "wrap": True, "weight": "Bolder"},
        {"type": "TextBlock", "text": hint, "wrap": True, "isSubtle": True},
    ]
    longest = max((len(name) for _, name in departments), default=0)
    if len(departments) > MAX_BUTTONS or longest * len(departments) > BUTTON_ROW_CHARS:
        # More than a phone shows side by side: a list to pick from and one button.
        body.append(
            {
                "type": "Input.ChoiceSet",
                "id": "department",
                "style": "expanded",
                "isRequired": True,
                "value": departments[0][0],
                "choices": [{"title": name, "value": key} for key, name in departments],
            }
        )
        actions = [
            {"type": "Action.Submit", "title": choose, "data": {"action": CHOOSE_DEPARTMENT}}
        ]
    else:
        actions = [
            {
                "type": "Action.Submit",
                "title": name,
                "data": {"action": CHOOSE_DEPARTMENT, "department": key},
            }
            for key, name in departments
        ]
    card = _card(body, actions)
    return {"type": "message", "attachments": [attachment(card)]}


# An availability's text, by its word (``store.vocabulary.Availability``).
AVAILABILITY_KEYS = {
    "online": "availability.online",
    "away": "availability.away",
    "offline": "availability.offline",
}


def availability_card(current: str, t: TextLookup) -> dict[str, Any]:
    """Buttons to set one's availability (``Action.Execute``, falling back to Submit)."""
    actions = []
    for state, key in AVAILABILITY_KEYS.items():
        data = {"action": SET_AVAILABILITY, "availability": state}
        title = t(key)
        actions.append(
            {
                "type": "Action.Execute",
                "title": title,
                "verb": SET_AVAILABILITY,
                "data": data,
                "fallback": {"type": "Action.Submit", "title": title, "data": data},
            }
        )
    current_text = t("card.availability_now", availability=t(AVAILABILITY_KEYS[current]))
    return _card(
        [
            {"type": "TextBlock", "text": t("card.availability"), "weight": "Bolder"},
            {"type": "TextBlock", "text": current_text, "wrap": True},
        ],
        actions,
    )


def pressed_availability(data: dict[str, Any] | None) -> str | None:
    """The availability a status-card press asks for ("" when malformed); None when the
    press's data (``cards.actions.card_data``, an invoke or a Submit alike) is no such press."""
    if data is None or data.get("action") != SET_AVAILABILITY:
        return None
    word = data.get("availability")
    return word if isinstance(word, str) else ""


def with_mentions(card: dict[str, Any], text: str, people: tuple[Person, ...]) -> dict[str, Any]:
    """Add a line that @mentions ``people``: Teams notifies only for mentions listed in
    the card's ``msteams.entities`` whose ``<at>`` text is in a TextBlock."""
    body = [*card["body"], {"type": "TextBlock", "text": text, "wrap": True}]
    return {**card, "body": body, "msteams": {"entities": [mention_entity(p) for p in people]}}


def with_note(card: dict[str, Any], text: str, color: str = "Attention") -> dict[str, Any]:
    return {
        **card,
        "body": [*card["body"], {"type": "TextBlock", "text": text, "wrap": True, "color": color}],
    }

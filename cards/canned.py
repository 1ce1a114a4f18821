"""Cards of canned answers: the list shown in a thread and the message extension's results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cards.envelope import adaptive_card
from cards.markdown import card_text
from cards.request import TextLookup

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.canned import Canned

THUMBNAIL_CONTENT_TYPE = "application/vnd.microsoft.card.thumbnail"
FIRST_WORDS_CHARS = 80
LIST_LIMIT = 50


def first_words(text: str, limit: int = FIRST_WORDS_CHARS) -> str:
    """The start of an answer, cut at a word where possible, to recognise it in a list."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut + "…"


def canned_list_card(title: str, answers: tuple[Canned, ...], t: TextLookup) -> dict[str, Any]:
    """Shortcuts and first words, the company-wide ones marked; at most LIST_LIMIT of them."""
    facts = [
        {
            "title": card_text(f"/{answer.shortcut}"),
            "value": first_words(answer.text)
            + (f" ({t('canned.company_wide')})" if answer.company_wide else ""),
        }
        for answer in answers[:LIST_LIMIT]
    ]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
        {"type": "FactSet", "facts": facts},
    ]
    if len(answers) > LIST_LIMIT:
        body.append(
            {
                "type": "TextBlock",
                "text": t("canned.more", count=len(answers) - LIST_LIMIT),
                "isSubtle": True,
                "wrap": True,
            }
        )
    return adaptive_card(body)


def extension_result(answers: list[tuple[Canned, str]]) -> dict[str, Any]:
    """A message extension's ``result``: each answer (filled text) with a short preview."""

    def thumbnail(shortcut: str, text: str) -> dict[str, Any]:
        return {"contentType": THUMBNAIL_CONTENT_TYPE, "content": {"title": shortcut, "text": text}}

    return {
        "composeExtension": {
            "type": "result",
            "attachmentLayout": "list",
            "attachments": [
                {
                    **thumbnail(f"/{answer.shortcut}", filled),
                    "preview": thumbnail(f"/{answer.shortcut}", first_words(filled)),
                }
                for answer, filled in answers
            ],
        }
    }

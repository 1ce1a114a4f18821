"""What every flow needs: the store, texts in the right language, transcript links."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialogs.i18n import Texts, pick_language
from store.chats import Store


@dataclass(frozen=True)
class FlowContext:
    store: Store
    default_language: str
    transcript_url: Callable[[int], str]
    max_text_length: int = 4000
    flood_messages: int = 10
    flood_window: float = 10.0

    def customer_texts(self, locale: str | None) -> Texts:
        return Texts(pick_language(locale, self.default_language))

    @property
    def team_texts(self) -> Texts:
        """The agents' side speaks the company's default language."""
        return Texts(self.default_language)

"""What every flow needs: the store, the team's directory, texts, links and limits."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from dialogs.i18n import Texts, pick_language
from store import Store, chats
from store.ai import ChatMaterial


class Directory(Protocol):
    """Who is in a Teams team or conversation, as the Bot Connector's members API says."""

    async def members(self, service_url: str, conversation_id: str) -> list[dict[str, Any]]: ...


class Assistant(Protocol):
    """AI help as the flows use it (``bot/ai.py``): off unless a department is listed;
    each call returns None when the provider failed or took too long."""

    per_chat: int
    per_day: int

    def enabled_for(self, department_key: str) -> bool: ...

    def spawn(self, work: Coroutine[Any, Any, None]) -> None: ...

    async def suggest(self, material: ChatMaterial, glossary: str = "") -> list[str] | None: ...

    async def summarize(self, material: ChatMaterial, team_language: str) -> str | None: ...

    async def translate(self, material: ChatMaterial, into: str) -> str | None: ...


class FirstBot(Protocol):
    """The company's bot that answers first (``bot/firstbot.py``): a customer's line is
    handed to it after the flow's commit (its own task; a relay never waits on it)."""

    def relay(self, chat_id: int, text: str, locale: str) -> None: ...


@dataclass(frozen=True)
class FlowContext:
    store: Store
    directory: Directory
    default_language: str
    transcript_url: Callable[[str], str]
    max_text_length: int = 4000
    flood_messages: int = 10
    flood_window: float = 10.0
    offer_timeout: float = 120.0
    typing_interval: float = 5.0
    max_attachments: int = 10
    # Direct Line's enhanced authentication is on: a ``dl_`` user id was bound by a token.
    token_bound_ids: bool = False
    # Base of the console's links (sign-in, reports): the bridge's PUBLIC_URL.
    public_url: str = "http://localhost:3978"
    # Ask customers to rate a chat when it closes (CSAT_ENABLED).
    csat_enabled: bool = True
    time_zone: str = "UTC"  # the bridge's TIME_ZONE (a department may have its own)
    # Agents' replies also go by mail to a customer who left (SMTP_HOST is set).
    mail_enabled: bool = False
    # AI help for agents (None: no provider configured, off everywhere).
    assistant: Assistant | None = None
    # The company's bot that answers first (None: FIRST_BOT_SECRET is empty).
    first_bot: FirstBot | None = None

    async def chat_for_thread(self, thread_id: str) -> int | None:
        """The chat whose thread ``thread_id`` is (None: a thread of no chat)."""
        async with self.store.reading() as tx:
            return await chats.chat_for_thread(tx, thread_id)

    def customer_texts(self, locale: str | None) -> Texts:
        return Texts(pick_language(locale, self.default_language))

    @property
    def team_texts(self) -> Texts:
        """The agents' side speaks the company's default language."""
        return Texts(self.default_language)

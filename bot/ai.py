"""AI help for agents through an OpenAI-compatible chat completions API.

Azure OpenAI (its ``/openai/v1`` base URL and the deployment as the model), OpenAI, or a
local server such as Ollama: the official ``openai`` client, one per bridge, no retries of
its own (a failed call is simply not shown; the agent may ask again).

What leaves the bridge: the chat's latest customer and agent lines (never internal notes,
names or ids), with e-mail addresses and phone numbers masked unless
``AI_MASK_CONTACTS=false``, and one instruction. Every call is logged with its kind,
department and chat reference and how it ended, never its text.

Calls never run on a relay's path: the flows claim a call's budget in their unit of work,
then hand the call here (:meth:`Assistant.spawn`) to run after the commit as a task of its
own with a time limit; its answer is queued in the outbox like any notice. A provider that
is down or hangs costs the relay nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Coroutine
from typing import Any

from openai import AsyncOpenAI

from bot.metrics import Metrics
from bot.settings import Settings
from store.ai import ChatMaterial

log = logging.getLogger(__name__)

MAX_SUGGESTIONS = 3
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number: a run of 8 to 15 digits, with spaces, dots, dashes or brackets between.
_PHONE = re.compile(r"(?<!\w)\+?\d(?:[\s.\-()]*\d){7,14}(?!\w)")
_LANGUAGES = {"vi": "Vietnamese", "en": "English"}


def mask_contacts(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by placeholders."""
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


def language_name(locale: str) -> str:
    """The language of a locale as the model reads it best (``vi-VN``: Vietnamese)."""
    code = (locale or "en").split("-")[0].lower()
    return _LANGUAGES.get(code, code)


def _parse_suggestions(content: str) -> list[str]:
    """Up to three replies from the model's answer: a JSON list (or ``{"replies": [...]}``),
    else one reply per non-empty line."""
    try:
        found = json.loads(content)
    except ValueError:
        found = None
    if isinstance(found, dict):
        found = found.get("replies") or found.get("suggestions")
    if isinstance(found, list):
        replies = [str(r).strip() for r in found if str(r).strip()]
    else:
        replies = [line.strip(" -*\t").strip() for line in content.splitlines()]
        replies = [r for r in replies if r]
    return replies[:MAX_SUGGESTIONS]


class Assistant:
    """The AI provider as the flows see it: which departments have it, their budgets,
    and the calls (each returns None when the provider failed or took too long)."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.metrics = metrics
        self.departments = settings.ai_departments
        self.per_chat = settings.ai_calls_per_chat
        self.per_day = settings.ai_calls_per_day
        self.mask = settings.ai_mask_contacts
        self.model = settings.ai_model
        self.timeout = settings.ai_timeout
        self._client = AsyncOpenAI(
            base_url=settings.ai_base_url,
            # A local server needs no key; the client insists on one.
            api_key=settings.ai_api_key or "none",
            timeout=settings.ai_timeout,
            max_retries=0,
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def enabled_for(self, department_key: str) -> bool:
        """AI help is off unless the department is listed in ``AI_DEPARTMENTS``."""
        return department_key in self.departments

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the caller's commit, as a task of its own (kept referenced
        until it ends; cancelled when the bridge stops)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for the calls under way (tests; a graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel the calls under way (the bridge is stopping; the agent may ask again)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        await self.cancel()
        await self._client.close()

    def _transcript(self, material: ChatMaterial) -> str:
        lines = []
        for customer, text in material.lines:
            text = mask_contacts(text) if self.mask else text
            lines.append(f"{'Customer' if customer else 'Agent'}: {text}")
        return "\n".join(lines)

    async def _complete(self, kind: str, material: ChatMaterial, instruction: str) -> str | None:
        """One call; its kind, department, chat and outcome logged, never its text."""
        started = time.monotonic()
        outcome = "ok"
        try:
            async with asyncio.timeout(self.timeout + 1):
                answer = await self._client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": instruction},
                        {"role": "user", "content": self._transcript(material)},
                    ],
                )
            content = answer.choices[0].message.content if answer.choices else None
            if not content:
                outcome = "empty"
            return content or None
        except TimeoutError:
            outcome = "timeout"
            return None
        except Exception as error:  # any provider failure: nothing shown, nothing blocked
            outcome = "failed"
            log.warning("ai call %s failed: %s", kind, type(error).__name__)
            return None
        finally:
            if self.metrics is not None:
                self.metrics.ai_calls.labels(kind, material.department_key, outcome).inc()
            log.info(
                "ai call %s department=%s chat=%s outcome=%s ms=%d",
                kind,
                material.department_key,
                material.ref,
                outcome,
                (time.monotonic() - started) * 1000,
            )

    async def suggest(self, material: ChatMaterial, glossary: str = "") -> list[str] | None:
        """Up to three replies the agent could send next, in the customer's language."""
        language = language_name(material.customer_locale)
        instruction = (
            "You help a customer-support agent. Read the chat and propose up to three short"
            f" replies the agent could send next, in {language}, polite and concrete."
            ' Answer with JSON only: {"replies": ["...", "..."]}.'
        )
        if glossary:
            instruction += f" Use the team's words: {glossary}."
        content = await self._complete("suggest", material, instruction)
        return _parse_suggestions(content) if content else None

    async def summarize(self, material: ChatMaterial, team_language: str) -> str | None:
        """A few lines on what the customer wants and where the chat stands."""
        language = language_name(team_language)
        instruction = (
            "You help a customer-support team. Summarize the chat for a colleague taking it"
            f" over, in {language}, in at most four short sentences: what the customer"
            " wants, what was already answered or promised, what remains open."
        )
        content = await self._complete("summary", material, instruction)
        return content.strip() if content else None

    async def translate(self, material: ChatMaterial, into: str) -> str | None:
        """The material's only line (a customer's, or an agent's reply) in language ``into``."""
        language = language_name(into)
        instruction = (
            f"Translate the message after its 'Customer:' or 'Agent:' label into {language},"
            " for a customer-support chat. Answer with the translation only, keeping"
            " placeholders such as [email] as they are."
        )
        content = await self._complete("translate", material, instruction)
        return content.strip() if content else None

"""The Accept race under load: two replicas on one PostgreSQL, many agents, many cards.

Every agent presses Accept on every card, spread at random over both processes; the bridge
promises exactly one winner per card, and that everyone else is told who won.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.databases import reset_postgres
from bench.load import next_run
from bench.options import ROOT, Options
from bench.scenarios import customer_activities, progress, setup_room
from bench.servers import ServerProcess, bridge_server, running
from store import migrate
from store.engine import create_engine
from store.models import Agent as AgentRow
from store.models import Chat
from tests import activities as act
from tests.connector_emulator import Call, ConnectorEmulator

OPEN_TIMEOUT = 60.0
PRESS_TIMEOUT = 60.0


def _said(key: str) -> re.Pattern[str]:
    """A card text of the English locale, with its agent's name to be read back."""
    template = json.loads((ROOT / "dialogs" / "locales" / "en.json").read_text())[key]
    return re.compile("^" + re.escape(template).replace(r"\{agent\}", "(.+)") + "$")


# The winner's card says who is helping; a loser's card adds who was first.
_ACCEPTED = _said("card.headline.active")
_TOO_LATE = _said("card.taken_note")
_PROBLEM_SAMPLES = 5


@dataclass(frozen=True)
class Card:
    """A request card as the connector received it: where it is and what Accept carries."""

    thread: str
    data: dict[str, Any]

    @property
    def chat_ref(self) -> str:
        """The chat's public reference, as the card's buttons carry it."""
        return str(self.data["chat"])


@dataclass
class RaceResult:
    cards: int
    agents: int
    presses: int
    answered: int = 0
    errors: int = 0
    seconds: float = 0.0
    claims_per_second: float = 0.0
    cards_with_one_winner: int = 0
    losers_told_winner: bool = True
    database_agrees: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and self.cards_with_one_winner == self.cards
            and self.losers_told_winner
            and self.database_agrees
        )

    def problem(self, text: str) -> None:
        if len(self.problems) < _PROBLEM_SAMPLES:
            self.problems.append(text)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _card_of(call: Call) -> Card:
    content = call.body["activity"]["attachments"][0]["content"] if call.body else {}
    assert call.conversation_id is not None
    return Card(thread=call.conversation_id, data=dict(content["actions"][0]["data"]))


def _texts(card: Any) -> list[str]:
    """Every TextBlock text of an answered card, at any depth (containers, columns)."""
    if isinstance(card, list):
        return [text for part in card for text in _texts(part)]
    if not isinstance(card, dict):
        return []
    own = (
        [card["text"]]
        if card.get("type") == "TextBlock" and isinstance(card.get("text"), str)
        else []
    )
    return own + [text for key, part in card.items() if key != "actions" for text in _texts(part)]


def _verdict(card: Any) -> tuple[str, str | None]:
    """("won" | "late" | "other", the agent the card names as owner)."""
    texts = _texts(card) if isinstance(card, dict) else []
    owner = next((m.group(1) for t in texts if (m := _ACCEPTED.match(t))), None)
    late = next((m.group(1) for t in texts if (m := _TOO_LATE.match(t))), None)
    if late is not None:
        return "late", late
    return ("won", owner) if owner is not None else ("other", None)


async def _open_chats(
    http: aiohttp.ClientSession,
    replicas: tuple[ServerProcess, ...],
    emulator: ConnectorEmulator,
    count: int,
) -> list[Card]:
    """Customers' first messages through HTTP, alternating replicas; the cards they created."""
    activity_for = customer_activities(emulator.url, next_run())

    async def first_message(chat: int) -> None:
        server = replicas[chat % len(replicas)]
        activity = activity_for(chat, f"I need someone, chat {chat}")
        async with http.post(server.messages_url, json=activity) as response:
            await response.read()
            if response.status != 201:
                raise RuntimeError(f"opening chat {chat} answered {response.status}")

    await asyncio.gather(*(first_message(chat) for chat in range(count)))
    await emulator.wait_for(lambda: len(emulator.created()) >= count, timeout=OPEN_TIMEOUT)
    return [_card_of(call) for call in emulator.created()[:count]]


async def _press(
    http: aiohttp.ClientSession,
    slots: asyncio.Semaphore,
    server: ServerProcess,
    activity: dict[str, Any],
) -> tuple[int, Any]:
    """One Accept press; the time-out starts once it is in flight, not while it queues."""
    async with slots:
        try:
            async with (
                asyncio.timeout(PRESS_TIMEOUT),
                http.post(server.messages_url, json=activity) as response,
            ):
                body = await response.json(content_type=None)
                return response.status, body
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return 0, f"{type(error).__name__}: {error}"


def _judge(
    result: RaceResult,
    cards: list[Card],
    presses: list[tuple[act.Agent, Card]],
    answers: list[tuple[int, Any]],
) -> dict[str, str]:
    """Count answers and check one winner per card, named in every loser's card."""
    verdicts: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for (agent, card), (status, body) in zip(presses, answers, strict=True):
        if status != 200 or not isinstance(body, dict):
            result.errors += 1
            result.problem(f"press answered {status}: {str(body)[:200]}")
            continue
        result.answered += 1
        kind, named = _verdict(body.get("value"))
        verdicts[card.chat_ref].append((agent.name, kind, named))
    winners: dict[str, str] = {}
    for card in cards:
        _judge_card(result, card.chat_ref, verdicts[card.chat_ref], winners)
    return winners


def _judge_card(
    result: RaceResult,
    chat_ref: str,
    verdicts: list[tuple[str, str, str | None]],
    winners: dict[str, str],
) -> None:
    kinds = Counter(kind for _, kind, _ in verdicts)
    won = [(name, named) for name, kind, named in verdicts if kind == "won"]
    if len(won) != 1 or won[0][0] != won[0][1]:
        result.problem(f"chat {chat_ref}: winners {won}, answers {dict(kinds)}")
        return
    result.cards_with_one_winner += 1
    winner = won[0][0]
    winners[chat_ref] = winner
    wrong = [(name, named) for name, kind, named in verdicts if kind != "won" and named != winner]
    if wrong:
        result.losers_told_winner = False
        result.problem(f"chat {chat_ref}: winner {winner}, but losers were told {wrong[:3]}")


async def _check_database(result: RaceResult, database_url: str, winners: dict[str, str]) -> None:
    """The owner the database kept must be the winner the cards announced."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Chat.public_id, AgentRow.name)
                .join(AgentRow, AgentRow.id == Chat.owner_id)
                .where(Chat.public_id.in_(list(winners)))
            )
            owners = {ref: name for ref, name in rows}
    finally:
        await engine.dispose()
    for chat_ref, winner in winners.items():
        if owners.get(chat_ref) != winner:
            result.database_agrees = False
            kept = owners.get(chat_ref)
            result.problem(f"chat {chat_ref}: cards say {winner}, database says {kept}")


async def _race(
    http: aiohttp.ClientSession,
    replicas: tuple[ServerProcess, ...],
    emulator: ConnectorEmulator,
    options: Options,
    database_url: str,
) -> RaceResult:
    await setup_room(http, replicas[0], emulator)
    cards = await _open_chats(http, replicas, emulator, options.race_chats)
    agents = [act.agent(500 + n, f"Racer {n:03d}") for n in range(options.race_agents)]
    presses = [(agent, card) for card in cards for agent in agents]
    random.shuffle(presses)
    result = RaceResult(cards=len(cards), agents=len(agents), presses=len(presses))
    activities = [
        (
            random.choice(replicas),
            act.invoke_action(emulator.url, agent, card.thread, "accept", card.data),
        )
        for agent, card in presses
    ]
    slots = asyncio.Semaphore(options.race_inflight)
    started = time.monotonic()
    answers = await asyncio.gather(
        *(_press(http, slots, server, activity) for server, activity in activities)
    )
    result.seconds = time.monotonic() - started
    winners = _judge(result, cards, presses, answers)
    result.claims_per_second = result.answered / result.seconds
    await _check_database(result, database_url, winners)
    return result


async def run_race(options: Options, database_url: str, log_dir: Path) -> RaceResult:
    """Two bridge processes on a clean PostgreSQL, their own recording emulator, one race."""
    await reset_postgres(database_url)
    # Two replicas starting at once on an empty database would both run CREATE TABLE (and one
    # fails on PostgreSQL's catalog); a deployment migrates first, so the bench does too.
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    emulator = ConnectorEmulator(latency=options.latency, record=True)
    await emulator.start()
    try:
        replicas = (
            bridge_server(database_url, log_dir, "race-a"),
            bridge_server(database_url, log_dir, "race-b"),
        )
        # Presses are limited by a semaphore (see _press), not by the connection pool, whose
        # queueing would count against a request's time-out.
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=PRESS_TIMEOUT)
        async with (
            running(*replicas),
            aiohttp.ClientSession(connector=connector, timeout=timeout) as http,
        ):
            progress(
                f"race: {options.race_agents} agents x {options.race_chats} cards, "
                f"2 replicas, {options.race_inflight} presses in flight"
            )
            return await _race(http, replicas, emulator, options, database_url)
    finally:
        await emulator.stop()

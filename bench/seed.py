"""Open chats put straight into the database before a scale run, in bulk.

The question a scale run answers is whether the bridge slows down as its tables fill, so the
seeded rows look like what real traffic leaves: a room bound by ``@Bot setup``, customers with
their references, chats waiting or active with their own threads, a few transcript lines each,
the inbound keys of those lines and their delivered outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dialogs.activity import reference_of
from dialogs.rooms import room_reference
from dialogs.turn import Turn
from store import migrate
from store.engine import create_engine
from store.models import (
    Agent,
    Chat,
    ChatState,
    Customer,
    DeliveryState,
    Department,
    InboundActivity,
    Message,
    MessageKind,
    OutboxItem,
    Participant,
    ParticipantRole,
)
from tests import activities as act

# Seeded thread ids sort before the emulator's activity ids, so they never collide with a
# thread the bridge creates during the run.
SEED_THREAD_BASE = 1_600_000_000_000
MESSAGES_PER_CHAT = 3
BATCH = 2_000
SUPERVISOR = act.agent(1, "Supervisor Mai")
SEED_OWNER = act.agent(9000, "Seeded Owner")


async def seed_open_chats(database_url: str, service_url: str, count: int) -> None:
    """Create the schema (as the bridge would) and ``count`` open chats with their history."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        now = datetime.now(UTC)
        async with engine.begin() as connection:
            department_id = await _department(connection, service_url, now)
            owner_id = await _owner(connection, now)
            for start in range(0, count, BATCH):
                numbers = range(start, min(count, start + BATCH))
                await _batch(connection, numbers, service_url, department_id, owner_id, now)
    finally:
        await engine.dispose()


async def _returning_ids(
    connection: AsyncConnection, model: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Bulk INSERT ... RETURNING id, ids in the order of ``rows`` (the ids are the database's,
    so PostgreSQL's sequences stay right for the rows the bridge adds later)."""
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    result = await connection.execute(statement, list(rows))
    return list(result.scalars())


async def _department(connection: AsyncConnection, service_url: str, now: datetime) -> int:
    """The default department bound to the room, with the reference ``@Bot setup`` stores."""
    setup = act.room_message(service_url, SUPERVISOR, "setup")
    row = {
        "key": "default",
        "name": "Support",
        "team_id": act.TEAM,
        "channel_id": act.ROOM,
        "room_reference": room_reference(Turn.of(setup)),
        "created_at": now,
    }
    return (await _returning_ids(connection, Department, [row]))[0]


async def _owner(connection: AsyncConnection, now: datetime) -> int:
    row = {
        "teams_id": SEED_OWNER.id,
        "aad_object_id": SEED_OWNER.account["aadObjectId"],
        "name": SEED_OWNER.name,
        "created_at": now,
    }
    return (await _returning_ids(connection, Agent, [row]))[0]


def _customer(service_url: str, n: int, now: datetime) -> dict[str, Any]:
    user = f"seed-{n}"
    reference = reference_of(
        act.webchat_message(service_url, user, "", name=f"Seeded {n}", locale="en-US")
    )
    return {
        "channel_id": "webchat",
        "user_id": user,
        "name": f"Seeded {n}",
        "locale": "en",
        "reference": reference,
        "created_at": now - timedelta(minutes=30),
    }


def _chat(n: int, customer_id: int, department_id: int, owner_id: int, now: datetime) -> dict:
    """Every other chat is active (owned), the rest wait; each has its own thread."""
    active = n % 2 == 0
    return {
        "customer_id": customer_id,
        "department_id": department_id,
        "state": ChatState.ACTIVE if active else ChatState.WAITING,
        "owner_id": owner_id if active else None,
        "thread_id": f"{act.ROOM};messageid={SEED_THREAD_BASE + n}",
        "card_activity_id": str(SEED_THREAD_BASE + n),
        "version": 2 if active else 1,
        "created_at": now - timedelta(minutes=30),
        "accepted_at": now - timedelta(minutes=20) if active else None,
    }


async def _batch(
    connection: AsyncConnection,
    numbers: range,
    service_url: str,
    department_id: int,
    owner_id: int,
    now: datetime,
) -> None:
    customers = await _returning_ids(
        connection, Customer, [_customer(service_url, n, now) for n in numbers]
    )
    chat_rows = [
        _chat(n, customer_id, department_id, owner_id, now)
        for n, customer_id in zip(numbers, customers, strict=True)
    ]
    chats = await _returning_ids(connection, Chat, chat_rows)
    seeded = list(zip(numbers, chats, strict=True))
    await _history(connection, seeded, owner_id, now)


async def _history(
    connection: AsyncConnection, seeded: list[tuple[int, int]], owner_id: int, now: datetime
) -> None:
    """Transcript lines, their inbound keys, delivered outbox rows and the owners' seats."""
    messages, keys, outbox, seats = [], [], [], []
    for n, chat_id in seeded:
        active = n % 2 == 0
        outbox.append(_delivered(chat_id, "create_thread", f"card of chat {n}", now))
        for k in range(MESSAGES_PER_CHAT):
            from_agent = active and k == 1
            text = f"Seeded message {k + 1} of chat {n}"
            messages.append(
                {
                    "chat_id": chat_id,
                    "kind": MessageKind.OUTGOING if from_agent else MessageKind.INCOMING,
                    "agent_id": owner_id if from_agent else None,
                    "author": SEED_OWNER.name if from_agent else f"Seeded {n}",
                    "text": text,
                    "source_key": f"a|seed|{n}|{k}",
                    "created_at": now - timedelta(minutes=25 - k),
                }
            )
            keys.append({"key": f"a|seed|{n}|{k}", "received_at": now})
            outbox.append(_delivered(chat_id, "send", text, now))
        if active:
            seats.append(
                {
                    "chat_id": chat_id,
                    "agent_id": owner_id,
                    "role": ParticipantRole.OWNER,
                }
            )
    for model, rows in (
        (Message, messages),
        (InboundActivity, keys),
        (OutboxItem, outbox),
        (Participant, seats),
    ):
        if rows:
            await connection.execute(insert(model), rows)


def _delivered(chat_id: int, kind: str, text: str, now: datetime) -> dict[str, Any]:
    return {
        "lane": f"chat:{chat_id}",
        "kind": kind,
        "payload": {"chat_id": chat_id, "activity": {"type": "message", "text": text}},
        "state": DeliveryState.DELIVERED,
        "attempts": 1,
        "next_attempt_at": now,
        "created_at": now,
        "delivered_at": now,
    }

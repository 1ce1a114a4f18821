"""No row is left for the idle sweep: whatever becomes due is sent by some replica at once.

The sweep of an idle replica looks every ``IDLE_SWEEPS`` intervals (15 s by default) and
a lease lasts 30 s, so a row that a replica leased and then forgot, or that nobody was
told about, shows as a send that takes tens of seconds. These tests keep the default
sweep and wait well under it.

On PostgreSQL two units writing to one lane at once can each lease a row of it (each
reads before the other commits); the interleaving is forced at the database, as in
``tests/test_routing_races.py``: the units wait on inbound keys the test holds.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert

from bot import keys
from dialogs.activity import activity_keys
from store.core import utc_now
from store.models import InboundActivity
from tests import activities as act
from tests.conftest import (
    BridgeFactory,
    accept,
    accepted_chat,
    engine_name,
    open_chat,
    setup_room,
)
from tests.connector_emulator import Fault
from tests.test_routing_races import holding, waiting_on_locks

# Well under a lease (30 s) and an idle sweep (15 s), well over a paced send.
PROMPT = 8.0


async def test_lines_leased_at_once_on_one_replica_all_go_at_once(
    start_bridge: BridgeFactory,
) -> None:
    """Two lines of a customer read the chat's lane idle, wait (on keys the test holds)
    while a third line is stored and sent, slowly; then both are stored, each written
    leased to the replica: it sends all three, none waits for its lease to run out."""
    first = await start_bridge()
    if engine_name(first) != "postgresql":
        pytest.skip("SQLite serializes writers in the process: no interleaving to force")
    await start_bridge()  # a second replica, listening and sweeping as in production
    owner = act.agent(2, "An")
    chat = await accepted_chat(first, "c-held-lines", "Hi", owner)
    before = len(first.connector.texts(chat.thread))
    engine = first.app[keys.ENGINE]
    held = [
        act.webchat_message(first.service_url, "c-held-lines", text) for text in ("one", "three")
    ]
    async with holding(engine) as holder:
        for line in held:
            key = activity_keys(line)[0]
            await holder.execute(insert(InboundActivity).values(key=key, received_at=utc_now()))
        posting = [asyncio.create_task(first.post(line)) for line in held]
        await waiting_on_locks(engine, 2)
        # The middle line goes now; its post takes a second, while the held ones commit.
        first.connector.add_fault(Fault(method="POST", path_contains=chat.thread, delay=1.0))
        asked = first.connector.requests
        two = act.webchat_message(first.service_url, "c-held-lines", "two")
        assert (await first.post(two)).status == 201
        # Until the slow post has arrived (the emulator tells waiters only once it answers).
        while first.connector.requests == asked:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert [(await post).status for post in posting] == [201, 201]
    texts = await first.connector.wait_for_texts(chat.thread, before + 3, timeout=PROMPT)
    assert sorted(texts[before:]) == sorted(
        f"**Lan:** {word}" for word in ("one", "two", "three")
    ), texts


def _places(texts: list[str], said: list[str]) -> list[tuple[int, int] | None]:
    """Where each of ``said`` arrived: (which post, where in it), None if nowhere (posts
    may carry several lines of one author)."""
    places: list[tuple[int, int] | None] = []
    for line in said:
        found = [(n, text.find(line)) for n, text in enumerate(texts) if line in text]
        places.append(found[0] if found else None)
    return places


async def test_lines_and_replies_over_two_replicas_all_go_at_once(
    start_bridge: BridgeFactory,
) -> None:
    """Customers' lines and agents' replies, 30 of each over three chats, a line and a
    reply of a chat posted at once to the two replicas (in turn), without waiting for
    delivery: both replicas lease, send and mark rows of the same lanes while marks of
    the other's sends still wait. Every row arrives well before a lease (30 s) or an idle
    sweep (15 s) could free it, and each author's rows arrive in the order they were
    stored."""
    first = await start_bridge()
    if engine_name(first) != "postgresql":
        pytest.skip("one replica on SQLite: two replicas need PostgreSQL")
    second = await start_bridge()
    replicas = (first, second)
    owner = act.agent(2, "An")
    await setup_room(first)
    chats = []
    for n in range(3):
        chat = await open_chat(first, f"c-stress-{n}", "Hi")
        await accept(first, chat, owner)
        chats.append(chat)
    await first.settled()
    lines = {chat.thread: [f"line{c}n{n:02d}z" for n in range(10)] for c, chat in enumerate(chats)}
    replies = {
        chat.conversation: [f"reply{c}n{n:02d}z" for n in range(10)] for c, chat in enumerate(chats)
    }
    turn = 0
    for n in range(10):
        for chat in chats:
            to = replicas[turn % 2]
            line = act.webchat_message(to.service_url, chat.customer, lines[chat.thread][n])
            other = replicas[(turn + 1) % 2]
            reply = act.room_message(
                other.service_url,
                owner,
                replies[chat.conversation][n],
                thread=chat.thread,
                mention_bot=False,
            )
            answers = await asyncio.gather(to.post(line), other.post(reply))
            assert [answer.status for answer in answers] == [201, 201]
            turn += 1
            # Now and then a pause: some marks ride with the next unit, some go alone.
            await asyncio.sleep(0.1 * (turn % 4))
    said = {**lines, **replies}

    def arrived() -> bool:
        return all(
            None not in _places(first.connector.texts(conversation), words)
            for conversation, words in said.items()
        )

    await first.connector.wait_for(arrived, timeout=PROMPT)
    for conversation, words in said.items():
        places = _places(first.connector.texts(conversation), words)
        assert places == sorted(places), (conversation, places)  # type: ignore[type-var]

"""The queue's priority tag is one of the department's, held by the change's own UPDATE:
a tag never listed, or removed while the supervisor chose it, is refused by the
``do_*`` itself (the console only shows its answer), on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import Store, migrate
from store.core import utc_now
from store.departments import PriorityTagMissing, do_set_queue_priority
from store.engine import create_engine
from store.models import Agent, Department, Supervisor, Tag
from store.tags import TagRemoved, do_remove_tag
from store.vocabulary import Refusal, Refused
from tests.test_routing_races import waiting_on_locks


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> Store:
    return Store(engine, serialize_writes=engine.dialect.name == "sqlite")


async def department(store: Store) -> tuple[int, int, int]:
    """A department with the tag ``vip``, its supervisor and an agent who is none."""
    now = utc_now()
    async with store.unit() as tx:
        dept = await tx.scalar(
            insert(Department)
            .values(key="support", name="Support", channel_id="19:room", room_reference={})
            .values(created_at=now)
            .returning(Department.id)
        )
        ids = [
            await tx.scalar(
                insert(Agent)
                .values(teams_id=teams_id, name=teams_id, created_at=now)
                .returning(Agent.id)
            )
            for teams_id in ("29:mai", "29:an")
        ]
        await tx.execute(
            insert(Supervisor).values(department_id=dept, agent_id=ids[0], created_at=now)
        )
        await tx.execute(insert(Tag).values(department_id=dept, name="vip", created_at=now))
    return dept, ids[0], ids[1]


async def priority(store: Store, dept: int) -> str | None:
    async with store.reading() as tx:
        return await tx.scalar(select(Department.queue_priority_tag).where(Department.id == dept))


async def set_priority(store: Store, dept: int, agent: int, tag: str | None) -> object:
    async with store.unit() as tx:
        return await do_set_queue_priority(tx, dept, agent, tag, returning=False)


async def test_a_tag_the_department_lacks_is_refused_by_the_change_itself(
    store: Store,
) -> None:
    dept, supervisor, agent = await department(store)
    assert await set_priority(store, dept, supervisor, "vip") == "Support"
    assert await priority(store, dept) == "vip"
    assert await set_priority(store, dept, supervisor, "nope") == PriorityTagMissing("nope")
    assert await priority(store, dept) == "vip"  # nothing changed
    # Who may not change it is told so, whatever the tag.
    assert await set_priority(store, dept, agent, "nope") == Refused(Refusal.NOT_SUPERVISOR)
    assert await set_priority(store, dept, supervisor, None) == "Support"
    assert await priority(store, dept) is None


async def test_a_tag_removed_while_it_is_chosen_leaves_no_priority(
    store: Store, engine: AsyncEngine
) -> None:
    """The removal's unit holds the tag's row (its DELETE done, not committed) while the
    priority is set: the change waits for it and finds the tag gone. On SQLite the
    writers queue, so the removal simply comes first."""
    dept, supervisor, _ = await department(store)
    async with store.unit() as remover:
        assert await do_remove_tag(remover, dept, supervisor, "vip") == TagRemoved("vip")
        setting = asyncio.create_task(set_priority(store, dept, supervisor, "vip"))
        if engine.dialect.name == "postgresql":
            await waiting_on_locks(engine, 1)
    assert await setting == PriorityTagMissing("vip")
    assert await priority(store, dept) is None


async def test_removing_the_priority_tag_clears_the_priority(store: Store) -> None:
    """Set first, removed after (the removal waits for the change on PostgreSQL): the
    removal takes the priority with the tag."""
    dept, supervisor, _ = await department(store)
    assert await set_priority(store, dept, supervisor, "vip") == "Support"
    async with store.unit() as tx:
        assert await do_remove_tag(tx, dept, supervisor, "vip") == TagRemoved("vip")
    assert await priority(store, dept) is None

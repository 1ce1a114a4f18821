"""Who a chat's announcements are for, read inside the transaction that makes them.

The request card @mentions the department's online agents, a re-announcement adds
its supervisors, and a returning customer's card names their earlier chats; all
of it comes from the database at the moment of the change, never from memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.hours import back_at
from store.matches import Linked, grouped
from store.models import Agent, Availability, Chat, ChatState, Department, DepartmentMember
from store.models import Supervisor as SupervisorRow
from store.unit import insert_ignoring
from store.views import Person, linked_chats, listed


@dataclass(frozen=True)
class Audience:
    """The departments to choose from and the people a chat's notices name."""

    departments: tuple[tuple[str, str], ...]
    online: tuple[Person, ...] = ()
    supervisors: tuple[Person, ...] = ()
    earlier_chats: tuple[tuple[int, str], ...] = ()  # (id, public reference), newest first
    last_owner: str | None = None
    position: int = 0
    # Outside the department's business hours: when its team is back (department's zone).
    back_at: datetime | None = None
    # The same person on other channels (a matching contact), with their earlier chats.
    linked: tuple[Linked, ...] = ()


Choices = tuple[tuple[str, str], ...]  # departments a customer may pick, as (key, name)


_DEPARTMENTS = select(Department.key, Department.name, Department.names).order_by(Department.id)


def _in_language(name: str, names: Any, language: str | None) -> str:
    given = names.get(language) if isinstance(names, dict) and language else None
    return given if isinstance(given, str) and given.strip() else name


async def departments(session: AsyncSession, language: str | None = None) -> Choices:
    """Every department as (key, name), in the order they were set up; with ``language``,
    named as customers of that language read it (``Department.names``) where it can be."""
    rows = await session.execute(_DEPARTMENTS)
    return tuple((key, _in_language(name, names, language)) for key, name, names in rows)


async def department_choices(session: AsyncSession, language: str) -> tuple[Choices, Choices]:
    """(shown, known): the departments as a customer of ``language`` is offered them, and
    every name each goes by (its own and per language), for a name typed or tapped."""
    rows = (await session.execute(_DEPARTMENTS)).all()
    shown = tuple((key, _in_language(name, names, language)) for key, name, names in rows)
    known = tuple(
        (key, alias)
        for key, name, names in rows
        for alias in (name, *(names.values() if isinstance(names, dict) else ()))
        if isinstance(alias, str)
    )
    return shown, known


async def add_member(
    session: AsyncSession, department_id: int, agent_id: int, now: datetime
) -> None:
    """Remember that an agent works in a department (idempotent: the unique index
    decides, so two replicas seating the same agent cannot both insert)."""
    insert = insert_ignoring(session.bind.dialect.name)
    row = {"department_id": department_id, "agent_id": agent_id, "created_at": now}
    await session.execute(insert(DepartmentMember).values(**row).on_conflict_do_nothing())


def _audience_statement() -> Any:
    """Everything an announcement names, in one statement (rows told apart by ``kind``):
    the departments, the customer's earlier closed chats with their owners, the
    department's online members and supervisors, and how many chats wait up to this one."""
    department = bindparam("p_department")
    owner = aliased(Agent)
    return union_all(
        listed("department", Department.id, Department.key, Department.name),
        listed("earlier", Chat.id, Chat.public_id, Chat.owner_id, owner.name)
        .outerjoin(owner, owner.id == Chat.owner_id)
        .where(Chat.customer_id == bindparam("p_customer"), Chat.state == ChatState.CLOSED),
        listed("online", Agent.id, Agent.teams_id, Agent.name, Agent.aad_object_id)
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(
            DepartmentMember.department_id == department,
            Agent.availability == Availability.ONLINE,
        ),
        listed("supervisor", Agent.id, Agent.teams_id, Agent.name, Agent.aad_object_id)
        .join(SupervisorRow, SupervisorRow.agent_id == Agent.id)
        .where(SupervisorRow.department_id == department),
        listed("waiting", func.count(Chat.id)).where(
            Chat.department_id == department,
            Chat.state == ChatState.WAITING,
            Chat.id <= bindparam("p_chat"),
        ),
        linked_chats(bindparam("p_chat"), bindparam("p_customer")),
    )


_AUDIENCE = _audience_statement()


def _people(rows: list[Any]) -> list[tuple[int, Person]]:
    """Agents' rows as (agent id, person), by name as the cards list them (the same order on
    every engine, whatever the database's collation)."""
    ordered = sorted(rows, key=lambda row: (row[3].casefold(), row[3], row[1]))
    return [(row[1], Person(teams_id=row[2], name=row[3], aad_object_id=row[4])) for row in ordered]


async def audience(session: AsyncSession, chat_id: int, *, now: datetime | None = None) -> Audience:
    """Who to name for a chat: online members (its last owner first), supervisors, history;
    with ``now``, also whether the department is outside its business hours."""
    chat = await session.get(Chat, chat_id)
    assert chat is not None
    parameters = {
        "p_chat": chat_id,
        "p_customer": chat.customer_id,
        "p_department": chat.department_id,
    }
    lists: dict[str, list[Any]] = {}
    for row in (await session.execute(_AUDIENCE, parameters)).all():
        lists.setdefault(row[0], []).append(row)
    everything = tuple((row[2], row[3]) for row in sorted(lists.get("department", [])))
    earlier = sorted(lists.get("earlier", []), key=lambda row: -row[1])
    last_owner_id = int(earlier[0][3]) if earlier and earlier[0][3] is not None else None
    last_owner = earlier[0][4] if last_owner_id is not None else None
    earlier_chats = tuple((row[1], row[2]) for row in earlier)
    linked = grouped(lists.get("linked", []))
    if chat.department_id is None:
        return Audience(
            departments=everything,
            earlier_chats=earlier_chats,
            last_owner=last_owner,
            linked=linked,
        )
    online = _people(lists.get("online", []))
    # The customer's last agent first, when they are online.
    online.sort(key=lambda member: member[0] != last_owner_id)
    return Audience(
        departments=everything,
        online=tuple(person for _, person in online),
        supervisors=tuple(person for _, person in _people(lists.get("supervisor", []))),
        earlier_chats=earlier_chats,
        last_owner=last_owner,
        position=lists["waiting"][0][1],
        linked=linked,
        back_at=await back_at(session, chat.department_id, now) if now is not None else None,
    )

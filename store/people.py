"""People as the store keeps them: agents (Teams users) and their seats in chats."""

from __future__ import annotations

from sqlalchemy import or_, select, update

from store.models import Agent, Participant, ParticipantRole
from store.unit import Unit
from store.views import Person


async def agent(
    tx: Unit, person: Person, *, lock: bool = False, known: Agent | None = None
) -> Agent:
    """The agent row of a Teams user: made on first sight, their name kept current.

    ``lock``: hold the row (PostgreSQL) until the unit ends, so that two actions of one
    agent that count what they own run one after the other. ``known``: the row, when
    the caller's own read already brought it.
    """
    session = tx.session
    agent = known
    if agent is None:
        found = select(Agent).where(Agent.teams_id == person.teams_id)
        agent = await session.scalar(found.with_for_update() if lock else found)
    if agent is None:
        await tx.insert_ignore(
            Agent,
            {
                "teams_id": person.teams_id,
                "aad_object_id": person.aad_object_id,
                "name": person.name,
                "created_at": tx.now,
            },
        )
        found = select(Agent).where(Agent.teams_id == person.teams_id)
        agent = await session.scalar(found.with_for_update() if lock else found)
        assert agent is not None
    elif person.name and agent.name != person.name:
        agent.name = person.name
    return agent


async def person_by_id(tx: Unit, agent_id: int) -> Person:
    """The Teams user behind an agent's row (the console's supervisor acting as them)."""
    row = (
        await tx.session.execute(
            select(Agent.teams_id, Agent.name, Agent.aad_object_id).where(Agent.id == agent_id)
        )
    ).one()
    return Person(*row)


async def seat(tx: Unit, chat_id: int, agent_id: int, role: ParticipantRole) -> bool:
    """Make an agent a current participant with ``role`` (again, if they had left); False
    when they were seated already, and stay as they were.

    A seat is one row per agent and chat (unique), so the database refuses a second one;
    taking a row back is an UPDATE whose WHERE says the seat is free (``left_at`` set),
    which PostgreSQL re-checks on the row itself after waiting for a concurrent seat. A
    read of "not seated" made earlier (an ``EXISTS`` in the chat's claim, from the
    statement's snapshot) decides nothing. Becoming the owner (Accept, a transfer) also
    takes a seat held in another role.
    """
    if await tx.insert_ignore(
        Participant,
        {"chat_id": chat_id, "agent_id": agent_id, "role": role},
    ):
        return True
    free = Participant.left_at.is_not(None)
    if role == ParticipantRole.OWNER:
        free = or_(free, Participant.role != role)
    taken = await tx.session.execute(
        update(Participant)
        .where(Participant.chat_id == chat_id, Participant.agent_id == agent_id, free)
        .values(role=role, left_at=None)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1

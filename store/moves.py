"""Who takes part in a chat: Join and Leave, and the reads a team move starts from.

Each ``do_*`` runs in the caller's unit. Its precondition (who may do it, in which
state) is part of the conditional UPDATE that makes the change, never a read before
it: on PostgreSQL a Close committed by another replica between a read and a write
would otherwise be overlooked. The reason for a refusal is read after the write found
no row to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Exists, exists, select, true, update

from store import people
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Participant,
    ParticipantRole,
    Supervisor,
)
from store.unit import Unit
from store.views import ChatView, Person, chat_view
from store.vocabulary import ChatEvent, Refusal, Refused


@dataclass(frozen=True)
class Joined:
    """A supervisor (or an owner of the team) joined the chat."""

    chat: ChatView


@dataclass(frozen=True)
class Left:
    """A participant left the chat; ``role`` is the one they had in it."""

    chat: ChatView
    role: ParticipantRole


def person_of(agent: Agent) -> Person:
    return Person(agent.teams_id, agent.name, agent.aad_object_id)


def seated(agent_id: int) -> Exists:
    """The agent is a current participant of the chat the statement is about."""
    return exists().where(
        Participant.chat_id == Chat.id,
        Participant.agent_id == agent_id,
        Participant.left_at.is_(None),
    )


async def current_seat(tx: Unit, chat_id: int, agent_id: int) -> Participant | None:
    return await tx.session.scalar(
        select(Participant)
        .where(
            Participant.chat_id == chat_id,
            Participant.agent_id == agent_id,
            Participant.left_at.is_(None),
        )
        .execution_options(populate_existing=True)
    )


async def claim_chat(
    tx: Unit, chat_id: int, *conditions: ColumnElement[bool], **values: Any
) -> bool:
    """Change the chat's row by ``values`` (none: a change of nothing) if it meets every
    one of ``conditions``; False when it does not.

    Writing the row, even to change nothing, holds it until the unit ends: a Close
    changes the same row, so on PostgreSQL the two take turns, and the conditions are
    decided by the row as the one that came first left it.
    """
    claimed = await tx.session.execute(
        update(Chat)
        .where(Chat.id == chat_id, *conditions)
        .values(values or {"state": Chat.state})
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


async def chat_exists(tx: Unit, chat_id: int) -> bool:
    return await tx.session.scalar(select(Chat.id).where(Chat.id == chat_id)) is not None


# -- reads for the dialogs' checks ------------------------------------------------------------


async def chat_view_of(tx: Unit, chat_id: int) -> ChatView | None:
    """The chat as cards show it; None when no such chat exists (a tampered card)."""
    if not await chat_exists(tx, chat_id):
        return None
    return await chat_view(tx.session, chat_id)


async def online_agents(tx: Unit, teams_ids: Sequence[str] | None) -> list[Person]:
    """Online agents, among ``teams_ids`` (a team's roster) when given."""
    query = select(Agent).where(Agent.availability == Availability.ONLINE)
    if teams_ids is not None:
        query = query.where(Agent.teams_id.in_(list(teams_ids)))
    return [person_of(agent) for agent in await tx.session.scalars(query.order_by(Agent.name))]


async def agent_named(tx: Unit, teams_id: str) -> Person | None:
    agent = await tx.session.scalar(select(Agent).where(Agent.teams_id == teams_id))
    return person_of(agent) if agent else None


# -- join and leave ---------------------------------------------------------------------------


async def do_join(
    tx: Unit, chat_id: int, person: Person, *, team_owner: bool = False
) -> Joined | Refused:
    """A supervisor of the chat's department (or an owner of the team, as the Bot
    Connector's roster says) joins it to monitor and to help.

    The chat's row is claimed first with every condition in its WHERE: a Close
    changes the same row, so on PostgreSQL the two take turns, and a join that comes
    second finds the chat closed instead of seating someone in a closed chat. The
    "not seated yet" in that WHERE is read from the statement's snapshot, so two Joins
    of one supervisor both pass it; the seat's own row (``people.seat``) decides.
    """
    if not await chat_exists(tx, chat_id):
        return Refused(Refusal.UNKNOWN_CHAT)
    agent = await people.agent(tx, person)
    supervises = exists().where(
        Supervisor.agent_id == agent.id, Supervisor.department_id == Chat.department_id
    )
    claimed = await claim_chat(
        tx,
        chat_id,
        Chat.state != ChatState.CLOSED,
        ~seated(agent.id),
        true() if team_owner else supervises,
    )
    if not claimed:
        return Refused(await _join_refusal(tx, chat_id, agent.id))
    if not await people.seat(tx, chat_id, agent.id, ParticipantRole.SUPERVISOR):
        # Seated by a Join that committed while this one waited for the chat's row.
        return Refused(Refusal.ALREADY_IN_CHAT)
    tx.event(chat_id, ChatEvent.SUPERVISOR_JOINED, agent)
    return Joined(await chat_view(tx.session, chat_id))


async def _join_refusal(tx: Unit, chat_id: int, agent_id: int) -> Refusal:
    state = await tx.session.scalar(select(Chat.state).where(Chat.id == chat_id))
    if state == ChatState.CLOSED:
        return Refusal.JOIN_CLOSED
    if await current_seat(tx, chat_id, agent_id) is not None:
        return Refusal.ALREADY_IN_CHAT
    return Refusal.JOIN_NOT_SUPERVISOR


async def do_leave(tx: Unit, chat_id: int, person: Person) -> Left | Refused:
    """A participant other than the owner leaves; the owner transfers or closes instead.

    The role read first is part of the UPDATE's WHERE: an invitee who took the chat
    over in the meantime is its owner now and may not leave it.
    """
    if not await chat_exists(tx, chat_id):
        return Refused(Refusal.UNKNOWN_CHAT)
    agent = await people.agent(tx, person)
    seat = await current_seat(tx, chat_id, agent.id)
    if seat is None or seat.role == ParticipantRole.OWNER:
        return Refused(_leave_refusal(seat))
    left = await tx.session.execute(
        update(Participant)
        .where(
            Participant.id == seat.id,
            Participant.left_at.is_(None),
            Participant.role == seat.role,
        )
        .values(left_at=tx.now)
        .execution_options(synchronize_session=False)
    )
    if left.rowcount != 1:
        return Refused(_leave_refusal(await current_seat(tx, chat_id, agent.id)))
    tx.event(chat_id, ChatEvent.LEFT, agent)
    return Left(await chat_view(tx.session, chat_id), seat.role)


def _leave_refusal(seat: Participant | None) -> Refusal:
    owner = seat is not None and seat.role == ParticipantRole.OWNER
    return Refusal.LEAVE_OWNER if owner else Refusal.LEAVE_NOT_PARTICIPANT

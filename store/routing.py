"""Where a waiting chat goes: the customer's choice of department, a supervisor's move,
and the chats nobody accepted in time, announced again.

Each change is one conditional UPDATE of the chat: it still waits (nobody accepted it
meanwhile) and, for a move, the mover still supervises its department, both in the
WHERE, so a replica that checked first and changed later cannot act on stale facts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import exists, func, literal_column, select, update
from sqlalchemy.sql.elements import ColumnElement

from store import firstbot, people, targets
from store.audience import Audience, Choices, audience, departments
from store.intake import CustomerTurn, Writer, hold, new_chat, stored_customer
from store.models import (
    Agent,
    Chat,
    ChatState,
    Customer,
    Department,
    Message,
    MessageKind,
    Supervisor,
)
from store.unit import Unit
from store.views import ChatView, Person, chat_view
from store.vocabulary import ChatEvent, Refusal, Refused


@dataclass(frozen=True)
class Routed:
    """The chat is in its new department; ``previous`` is the chat as it was in its old
    one (its card is marked as moved), None when it had none yet."""

    chat: ChatView
    audience: Audience
    previous: ChatView | None = None


@dataclass(frozen=True)
class Unchanged:
    """The chat already is in that department, or an agent has it: only the text was
    kept. ``choices``: it still has no department, and these are the ones to ask about."""

    chat_id: int
    choices: Choices | None = None


@dataclass(frozen=True)
class UnknownDepartment:
    departments: Choices


@dataclass(frozen=True)
class MoveChecked:
    """A move that may go ahead as far as a read could tell (the UPDATE decides)."""

    chat_id: int
    department_id: int


@dataclass(frozen=True)
class Announced:
    """A chat announced again (``chat.held``: a held chat whose card is posted now, and
    ``later_lines`` what its customer wrote after the first line while it waited)."""

    chat: ChatView
    audience: Audience
    later_lines: tuple[str, ...] = ()


async def do_choose_department(
    tx: Unit, turn: CustomerTurn, key: str
) -> Routed | Unchanged | UnknownDepartment:
    """The customer picks (or changes) their chat's department, before anyone accepts it.

    ``turn.text`` (the suggested action's word) is stored like any message; a pressed
    button has no text. A customer with no open chat gets one in that department. Once
    an agent has the chat, the choice changes nothing (the text goes on as any message).
    """
    session = tx.session
    department = await session.scalar(select(Department).where(Department.key == key))
    if department is None:
        return UnknownDepartment(await departments(session))
    customers = Customer.__table__
    known = (
        await tx.execute(
            select(customers).where(
                customers.c.channel_id == turn.channel_id, customers.c.user_id == turn.user_id
            )
        )
    ).one_or_none()
    customer = await stored_customer(tx, turn, known)
    chat = await session.scalar(
        select(Chat).where(Chat.customer_id == customer.id, Chat.state != ChatState.CLOSED)
    )
    if chat is None:
        chat = await new_chat(tx, customer.id, None, None)
    elif chat.department_id == department.id or chat.state != ChatState.WAITING:
        _keep_text(tx, chat.id, customer.name, turn)
        unrouted = chat.department_id is None
        choices = await departments(session, turn.locale) if unrouted else None
        return Unchanged(chat.id, choices)
    previous = await chat_view(session, chat.id) if chat.department_id else None
    _keep_text(tx, chat.id, customer.name, turn)
    routed = await _route(tx, chat.id, department.id, previous, hold_for=customer)
    # None: an agent accepted the chat meanwhile; the text goes to them as usual.
    return routed or Unchanged(chat.id)


def _keep_text(tx: Unit, chat_id: int, author: str, turn: CustomerTurn) -> None:
    if turn.text:
        tx.note(
            chat_id,
            MessageKind.INCOMING,
            author,
            turn.text,
            source_key=turn.source_key,
            attachments=list(turn.attachments),
        )


async def _route(
    tx: Unit,
    chat_id: int,
    department_id: int,
    previous: ChatView | None,
    *,
    hold_for: Writer | None = None,
    mover: int | None = None,
) -> Routed | None:
    """Give a waiting chat its department (None: it no longer waits, or ``mover``, an
    agent's id, no longer supervises its department). A customer's own choice
    (``hold_for``: the customer) counts against the intake limits like a new chat."""
    session = tx.session
    conditions: list[ColumnElement[bool]] = [Chat.id == chat_id, Chat.state == ChatState.WAITING]
    if mover is not None:
        conditions += [
            Chat.department_id != department_id,
            exists().where(
                Supervisor.agent_id == mover, Supervisor.department_id == Chat.department_id
            ),
        ]
    tx.timer(tx.now + tx.policy.unanswered_after)
    result = await session.execute(
        update(Chat)
        .where(*conditions)
        .values(
            department_id=department_id,
            announce_at=tx.now + tx.policy.unanswered_after,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    to_bot = False
    if hold_for is not None and previous is None:
        chat = await session.get(Chat, chat_id, populate_existing=True)
        department = await session.get(Department, department_id)
        assert chat is not None and department is not None
        to_bot = await firstbot.do_start(tx, chat, department)
        if not to_bot:
            await hold(tx, chat, hold_for)
    if not to_bot:
        await targets.restart_first(tx, chat_id, department_id)
    await session.flush()
    view = replace(await chat_view(session, chat_id), first_bot=to_bot)
    return Routed(view, await audience(session, chat_id, now=tx.now), previous)


async def check_move(
    tx: Unit, thread_id: str, person: Person, department_name: str
) -> MoveChecked | UnknownDepartment | Refused:
    """Whether a supervisor of the chat's department may move it, still waiting, to
    the department they name (by name or key)."""
    session = tx.session
    chat_id = await session.scalar(select(Chat.id).where(Chat.thread_id == thread_id))
    if chat_id is None:
        return Refused(Refusal.UNKNOWN_CHAT)
    wanted = department_name.strip().lower()
    target = await session.scalar(
        select(Department.id).where(
            (func.lower(Department.name) == wanted) | (Department.key == wanted)
        )
    )
    if target is None:
        return UnknownDepartment(await departments(session))
    supervises = exists().where(
        Supervisor.department_id == Chat.department_id,
        Supervisor.agent_id == Agent.id,
        Agent.teams_id == person.teams_id,
    )
    allowed = await session.scalar(
        select(Chat.id).where(
            Chat.id == chat_id,
            Chat.state == ChatState.WAITING,
            Chat.department_id != target,
            supervises,
        )
    )
    if allowed is None:
        return Refused(Refusal.MOVE_NOT_ALLOWED, await chat_view(session, chat_id))
    return MoveChecked(chat_id, target)


async def do_move(tx: Unit, move: MoveChecked, person: Person) -> Routed | Refused:
    """Move the chat; the UPDATE itself requires that it still waits and that ``person``
    still supervises its department (a demotion or an Accept may have come since)."""
    agent = await people.agent(tx, person)
    previous = await chat_view(tx.session, move.chat_id)
    routed = await _route(tx, move.chat_id, move.department_id, previous, mover=agent.id)
    if routed is None:
        return Refused(Refusal.MOVE_NOT_ALLOWED, previous)
    tx.note(move.chat_id, MessageKind.ACTIVITY, agent.name, ChatEvent.MOVED, agent_id=agent.id)
    return routed


# The state as a literal: the partial index of waiting chats by ``announce_at`` serves the
# timer only when the query names its condition (a bound parameter proves nothing).
_WAITING = Chat.state == literal_column("'waiting'")


async def next_unanswered(tx: Unit) -> datetime | None:
    """When the next waiting chat is due to be announced (None: none is)."""
    return await tx.scalar(select(func.min(Chat.announce_at)).where(_WAITING))


async def due_unanswered(tx: Unit, limit: int = 100) -> list[tuple[int, bool]]:
    """Waiting chats whose announcement is due, oldest first, as (id, held)."""
    rows = await tx.session.execute(
        select(Chat.id, Chat.held)
        .where(Chat.announce_at <= tx.now, _WAITING)
        .order_by(Chat.announce_at)
        .limit(limit)
    )
    return [(chat_id, held) for chat_id, held in rows]


async def do_announce(tx: Unit, chat_id: int, held: bool) -> Announced | None:
    """Claim one due chat's announcement by clearing its ``announce_at`` in a conditional
    UPDATE, so it fires once; a replica that loses the claim gets None.

    A held chat is released instead: its card is posted now and announced again later.
    """
    result = await tx.session.execute(
        update(Chat)
        .where(
            Chat.id == chat_id,
            Chat.announce_at <= tx.now,
            Chat.state == ChatState.WAITING,
            Chat.held == held,
        )
        .values(announce_at=tx.now + tx.policy.unanswered_after if held else None, held=False)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    if held:
        tx.timer(tx.now + tx.policy.unanswered_after)
    view = replace(await chat_view(tx.session, chat_id), held=held)
    later: tuple[str, ...] = ()
    if held:
        lines = await tx.session.scalars(
            select(Message.text)
            .where(Message.chat_id == chat_id, Message.kind == MessageKind.INCOMING)
            .order_by(Message.id)
            .offset(1)
        )
        later = tuple(lines)
    return Announced(view, await audience(tx.session, chat_id), later)

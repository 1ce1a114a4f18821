"""An agent's part of a chat: Accept, a reply relayed to the customer, and Close.

Each ``do_*`` decides its outcome with one conditional UPDATE (or INSERT) whose WHERE
holds every precondition, and answers with a typed outcome; the dialog turns it into
activities inside the same unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from store import people, targets
from store.audience import add_member
from store.core import Duplicate, TagRequired
from store.mail import mail_after_reply
from store.models import (
    Agent,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    Department,
    Message,
    MessageKind,
    Offer,
    OfferState,
    Participant,
    ParticipantRole,
    Supervisor,
    TagRequirement,
)
from store.moves import claim_chat
from store.unit import Unit
from store.views import ChatView, Person, chat_view
from store.vocabulary import ChatEvent, Refusal, Refused


@dataclass(frozen=True)
class Accepted:
    chat: ChatView


@dataclass(frozen=True)
class AlreadyTaken:
    chat: ChatView


@dataclass(frozen=True)
class AtCapacity:
    """The agent already owns as many open chats as the department allows."""

    chat: ChatView
    capacity: int


@dataclass(frozen=True)
class OfferedElsewhere:
    """Automatic assignment offered the chat to ``agent`` and the offer still runs."""

    chat: ChatView
    agent: str


@dataclass(frozen=True)
class Relayed:
    """The reply goes to the customer at ``reference``; ``mail_in``: the customer seems to
    have left, so it also goes by mail, due in that many seconds (None: no mail)."""

    chat_id: int
    reference: dict[str, Any]
    mail_in: float | None = None


@dataclass(frozen=True)
class KeptAsNote:
    """A reply in an open chat's thread by someone not taking part: kept for the team
    as an internal note, not sent to the customer. ``first``: their first such note in
    this chat (they are told once)."""

    chat: ChatView
    first: bool


@dataclass(frozen=True)
class Closed:
    chat: ChatView


@dataclass(frozen=True)
class AlreadyClosed:
    chat: ChatView


async def chat_for_thread(tx: Unit, thread_id: str) -> int | None:
    """The chat whose thread this is."""
    return await tx.session.scalar(select(Chat.id).where(Chat.thread_id == thread_id))


_owned = aliased(Chat)
# The seats an agent fills: chats they own, and others offered to them (automatic assignment).
_OPEN_COUNT = (
    select(func.count(_owned.id))
    .where(
        or_(
            and_(_owned.owner_id == bindparam("p_agent"), _owned.state == ChatState.ACTIVE),
            and_(
                _owned.offered_to_id == bindparam("p_agent"),
                _owned.state == ChatState.WAITING,
                _owned.id != bindparam("p_chat"),
            ),
        )
    )
    .scalar_subquery()
)
_CAPACITY = (
    select(func.coalesce(Department.capacity, bindparam("p_default", type_=Integer())))
    .where(Department.id == Chat.department_id)
    .scalar_subquery()
)
# The Accept race: one conditional UPDATE from waiting to active decides the winner.
_ACCEPT = (
    update(Chat)
    .where(
        Chat.id == bindparam("p_chat"),
        Chat.state == ChatState.WAITING,
        Chat.department_id.is_not(None),
        # A chat offered to one agent is theirs to take while the offer is pending.
        or_(Chat.offered_to_id.is_(None), Chat.offered_to_id == bindparam("p_agent")),
        or_(_CAPACITY.is_(None), _OPEN_COUNT < _CAPACITY),
    )
    .values(
        state=ChatState.ACTIVE,
        owner_id=bindparam("p_agent"),
        accepted_at=bindparam("p_now"),
        offered_to_id=None,
        offer_expires_at=None,
    )
    .returning(Chat.department_id)
    .execution_options(synchronize_session=False)
)


async def do_accept(
    tx: Unit, chat_id: int, person: Person
) -> Accepted | AlreadyTaken | AtCapacity | OfferedElsewhere | Refused:
    """The agent takes a waiting chat, within their capacity.

    The same WHERE holds the capacity: the count of the chats they own must stay below
    the department's limit (or the bridge's default). The agent's row is locked first
    (on PostgreSQL) so that two of their own Accepts cannot both pass the count.
    """
    agent = await people.agent(tx, person, lock=True)
    won = (
        await tx.session.execute(
            _ACCEPT,
            {
                "p_chat": chat_id,
                "p_agent": agent.id,
                "p_now": tx.now,
                "p_default": tx.policy.default_capacity,
            },
        )
    ).one_or_none()
    if won is None:
        if await tx.session.get(Chat, chat_id) is None:
            return Refused(Refusal.UNKNOWN_CHAT)
        view = await chat_view(tx.session, chat_id)
        offered = await tx.session.scalar(
            select(Agent.name)
            .join(Chat, Chat.offered_to_id == Agent.id)
            .where(Chat.id == chat_id, Chat.state == ChatState.WAITING, Agent.id != agent.id)
        )
        if offered is not None:
            return OfferedElsewhere(view, offered)
        if view.state == ChatState.WAITING and view.room_reference is not None:
            capacity = await tx.session.scalar(
                select(func.coalesce(Department.capacity, tx.policy.default_capacity))
                .join(Chat, Chat.department_id == Department.id)
                .where(Chat.id == chat_id)
            )
            return AtCapacity(view, capacity or 0)
        return AlreadyTaken(view)
    await people.seat(tx, chat_id, agent.id, ParticipantRole.OWNER)
    await add_member(tx.session, won.department_id, agent.id, tx.now)
    tx.event(chat_id, ChatEvent.ACCEPTED, agent)
    await tx.session.flush()
    return Accepted(await chat_view(tx.session, chat_id))


async def do_agent_message(
    tx: Unit,
    thread_id: str,
    person: Person,
    text: str,
    dedupe_keys: Sequence[str],
    *,
    attachments: Sequence[dict[str, Any]] = (),
    keep_notes: bool = True,
) -> Duplicate | Relayed | KeptAsNote | Refused:
    """Relay a thread reply to the customer if its writer takes part in an open chat.

    With ``keep_notes``, a reply that cannot be relayed while the chat is open is kept
    as an internal note (colleagues talk in the thread; as notes in Zendesk or
    Intercom).
    """
    if not await tx.first_time(dedupe_keys):
        return Duplicate()
    found = (
        await tx.session.execute(
            select(Chat, Customer.reference, Participant.id, Agent)
            .join(Customer, Customer.id == Chat.customer_id)
            .outerjoin(Agent, Agent.teams_id == person.teams_id)
            .outerjoin(
                Participant,
                and_(
                    Participant.chat_id == Chat.id,
                    Participant.agent_id == Agent.id,
                    Participant.left_at.is_(None),
                ),
            )
            .where(Chat.thread_id == thread_id)
        )
    ).one_or_none()
    if found is None:
        return Refused(Refusal.UNKNOWN_CHAT)
    chat, reference, participant, agent = found
    agent = await people.agent(tx, person, known=agent)
    relayed = participant is not None and chat.state == ChatState.ACTIVE
    outcome: Relayed | KeptAsNote
    if relayed:
        await targets.answered(tx, chat, agent.id)
        if chat.first_reply_at is None:
            chat.first_reply_at = tx.now
        mail_in = None
        if tx.policy.mail is not None and await mail_after_reply(tx, chat.id):
            mail_in = tx.policy.mail.batch.total_seconds()
        outcome = Relayed(chat.id, reference, mail_in)
    else:
        view = await chat_view(tx.session, chat.id)
        if chat.state == ChatState.CLOSED:
            return Refused(Refusal.CHAT_CLOSED, view)
        if not keep_notes:
            return Refused(Refusal.NOT_PARTICIPANT, view)
        noted_before = await tx.session.scalar(
            select(Message.id)
            .where(
                Message.chat_id == chat.id,
                Message.agent_id == agent.id,
                Message.kind == MessageKind.NOTE,
            )
            .limit(1)
        )
        outcome = KeptAsNote(view, first=noted_before is None)
    tx.note(
        chat.id,
        MessageKind.OUTGOING if relayed else MessageKind.NOTE,
        agent.name,
        text,
        agent_id=agent.id,
        source_key=dedupe_keys[0] if dedupe_keys else None,
        attachments=list(attachments),
    )
    return outcome


async def do_close(
    tx: Unit, chat_id: int, person: Person
) -> Closed | AlreadyClosed | TagRequired | Refused:
    """Close a chat; only its owner or a supervisor of its department may.

    Where the department requires a tag, a chat without one stays open (the
    precondition is part of the same conditional UPDATE).
    """
    if await tx.session.get(Chat, chat_id) is None:
        return Refused(Refusal.UNKNOWN_CHAT)
    agent = await people.agent(tx, person)
    # The row first (changing nothing): a tag change claims it too, so the two take turns,
    # and the tags below are read by a new statement after a removal committed. An
    # EXISTS in the claiming UPDATE would read them as they were when it started waiting.
    await claim_chat(tx, chat_id)
    supervises = exists().where(
        Supervisor.agent_id == agent.id, Supervisor.department_id == Chat.department_id
    )
    tagged_enough = or_(
        ~exists().where(TagRequirement.department_id == Chat.department_id),
        exists().where(ChatTag.chat_id == Chat.id),
    )
    result = await tx.session.execute(
        update(Chat)
        .where(
            Chat.id == chat_id,
            Chat.state != ChatState.CLOSED,
            or_(Chat.owner_id == agent.id, supervises),
            tagged_enough,
        )
        .values(
            state=ChatState.CLOSED,
            closed_at=tx.now,
            closed_by_id=agent.id,
            # A closed chat's customer waits for nothing: its target timers stop.
            target_remind_at=None,
            target_breach_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    view = await chat_view(tx.session, chat_id)
    if result.rowcount != 1:
        if view.state == ChatState.CLOSED:
            return AlreadyClosed(view)
        allowed = await tx.session.scalar(
            select(Chat.id).where(Chat.id == chat_id, or_(Chat.owner_id == agent.id, supervises))
        )
        if allowed is None:
            return Refused(Refusal.CLOSE_NOT_ALLOWED, view)
        return TagRequired(view)
    await tx.session.execute(
        update(Participant)
        .where(and_(Participant.chat_id == chat_id, Participant.left_at.is_(None)))
        .values(left_at=tx.now)
        .execution_options(synchronize_session=False)
    )
    await tx.session.execute(
        update(Offer)
        .where(Offer.chat_id == chat_id, Offer.state == OfferState.PENDING)
        .values(state=OfferState.WITHDRAWN)
        .execution_options(synchronize_session=False)
    )
    tx.event(chat_id, ChatEvent.CLOSED, agent)
    return Closed(view)

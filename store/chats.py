"""Chat lifecycle transitions: a customer's message opens or extends a chat; Accept,
relay and Close; and the transcript read back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store import trace
from store.audience import Audience, Choices, add_member, audience, departments
from store.core import (
    ChatView,
    Duplicate,
    NoSuchChat,
    NotAllowed,
    Person,
    StoreCore,
    TagRequired,
    ViewCompose,
)
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
    UTCDateTime,
)
from store.outbox import Outgoing


@dataclass(frozen=True)
class FloodLimit:
    """More than ``messages`` within ``window`` seconds is too fast for one chat."""

    messages: int
    window: float


@dataclass(frozen=True)
class CustomerTurn:
    channel_id: str
    user_id: str
    name: str
    locale: str
    reference: dict[str, Any]
    text: str
    source_key: str | None
    attachments: tuple[dict[str, Any], ...] = ()
    conversation_key: str | None = None
    contact: str | None = None  # from the website's pre-chat form, when given


@dataclass(frozen=True)
class TranscriptLine:
    kind: MessageKind
    author: str
    text: str
    at: datetime
    attachments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Transcript:
    chat: ChatView
    participants: tuple[tuple[str, ParticipantRole], ...]
    lines: tuple[TranscriptLine, ...]


# Outcomes. Each transition answers with one of these; callers match on the type.


@dataclass(frozen=True)
class Opened:
    chat: ChatView


@dataclass(frozen=True)
class Appended:
    chat_id: int


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
class Picked:
    """The message names a department to choose; nothing was stored yet."""

    key: str


# What a customer's later message sends: given the chat and, while it has no department,
# the departments to pick from (None once it has one).
AppendCompose = Callable[[int, Choices | None], list[Outgoing]]


@dataclass(frozen=True)
class Relayed:
    chat_id: int


@dataclass(frozen=True)
class KeptAsNote:
    """A reply in an open chat's thread by someone not taking part: kept for the team
    as an internal note, not sent to the customer."""

    chat: ChatView


@dataclass(frozen=True)
class Closed:
    chat: ChatView


@dataclass(frozen=True)
class AlreadyClosed:
    chat: ChatView


# A customer, their open chat (if any), how many messages it got within the flood window
# and how many departments there are (is there a choice?), in one statement built once:
# this runs for every customer message.
_RECENT = (
    select(func.count(Message.id))
    .where(
        Message.chat_id == Chat.id,
        Message.kind == MessageKind.INCOMING,
        Message.created_at > bindparam("p_since", type_=UTCDateTime()),
    )
    .correlate(Chat)
    .scalar_subquery()
)
_ROOMS = select(func.count(Department.id)).scalar_subquery()
_CUSTOMER_AND_OPEN_CHAT = (
    select(Customer, Chat, func.coalesce(_RECENT, 0), _ROOMS)
    .outerjoin(Chat, and_(Chat.customer_id == Customer.id, Chat.state != ChatState.CLOSED))
    .where(
        Customer.channel_id == bindparam("p_channel"),
        Customer.user_id == bindparam("p_user"),
    )
)


async def stored_customer(
    session: AsyncSession, turn: CustomerTurn, customer: Customer | None, now: datetime
) -> Customer:
    """The customer who wrote ``turn``: created, or brought up to date (how to reach them,
    their name and language change between visits)."""
    if customer is None:
        customer = Customer(
            channel_id=turn.channel_id,
            user_id=turn.user_id,
            name=turn.name,
            locale=turn.locale,
            reference=turn.reference,
            created_at=now,
            conversation_key=turn.conversation_key,
            contact=turn.contact,
        )
        session.add(customer)
        await session.flush()
        return customer
    if customer.reference != turn.reference:
        customer.reference = turn.reference
        customer.conversation_key = turn.conversation_key
    if turn.name and customer.name != turn.name:
        customer.name = turn.name
    if customer.locale != turn.locale:
        customer.locale = turn.locale
    if turn.contact and customer.contact != turn.contact:
        customer.contact = turn.contact
    return customer


async def new_chat(
    session: AsyncSession,
    customer_id: int,
    department: Department | None,
    announce_at: datetime | None,
    now: datetime,
) -> Chat:
    """A waiting chat; the open-chat unique index makes a concurrent second one fail."""
    chat = Chat(
        customer_id=customer_id,
        department_id=department.id if department else None,
        state=ChatState.WAITING,
        version=1,
        created_at=now,
        announce_at=announce_at,
    )
    session.add(chat)
    await session.flush()
    trace.CHAT_ID.set(chat.id)
    return chat


def _opened_view(
    chat: Chat, customer: Customer, department: Department | None, text: str
) -> ChatView:
    """The view of a chat just opened, from what the transaction has in hand (no queries)."""
    return ChatView(
        id=chat.id,
        ref=chat.public_id,
        state=chat.state,
        version=chat.version,
        department=department.name if department else "",
        customer_name=customer.name,
        customer_channel=customer.channel_id,
        customer_locale=customer.locale,
        customer_reference=customer.reference,
        owner_name=None,
        owner_teams_id=None,
        closed_by_teams_id=None,
        thread_id=None,
        room_reference=department.room_reference if department else None,
        created_at=chat.created_at,
        accepted_at=None,
        closed_at=None,
        message_count=1,
        first_messages=(text,),
        held=chat.held,
        customer_contact=customer.contact,
    )


class ChatLifecycle(StoreCore):
    """From a customer's first message to Close."""

    # -- customers -------------------------------------------------------------------------

    async def customer_message(
        self,
        turn: CustomerTurn,
        dedupe_keys: Sequence[str],
        *,
        on_open: Callable[[ChatView, Audience], list[Outgoing]],
        on_append: AppendCompose,
        flood: FloodLimit,
        on_flood: Callable[[], list[Outgoing]],
        pick: Callable[[Choices], str | None] | None,
        prefer: Callable[[Choices], str | None] | None = None,
    ) -> Duplicate | Opened | Appended | Picked:
        """Store a customer's message; open a chat if they have none open.

        A customer writing faster than ``flood`` allows is told so once per window;
        their messages are still stored and passed on. While the chat has no
        department or waits for an agent and there is a choice, ``pick`` (None when
        the text cannot name one) reads one from the text (a suggested action's word):
        then nothing is stored here and :class:`Picked` says which, for
        ``choose_department``. ``prefer`` names the department the customer chose
        before writing (the website's pre-chat form); it counts only while the chat
        has none, so the question is never asked. An accepted chat (the usual case)
        never reads the departments.
        """
        return await self._settling_conflicts(
            lambda: self._customer_message(
                turn, dedupe_keys, on_open, on_append, flood, on_flood, pick, prefer
            ),
            "customer message",
        )

    async def _customer_message(
        self,
        turn: CustomerTurn,
        dedupe_keys: Sequence[str],
        on_open: Callable[[ChatView, Audience], list[Outgoing]],
        on_append: AppendCompose,
        flood: FloodLimit,
        on_flood: Callable[[], list[Outgoing]],
        pick: Callable[[Choices], str | None] | None,
        prefer: Callable[[Choices], str | None] | None,
    ) -> Duplicate | Opened | Appended | Picked:
        async with self._transaction() as session:
            now = self.clock()
            found = (
                await session.execute(
                    _CUSTOMER_AND_OPEN_CHAT,
                    {
                        "p_channel": turn.channel_id,
                        "p_user": turn.user_id,
                        "p_since": now - timedelta(seconds=flood.window),
                    },
                )
            ).one_or_none()
            known, chat, recent, rooms = found if found else (None, None, 0, 0)
            if chat is None:
                # A new chat goes straight to the department when there is only one.
                first = list(await session.scalars(select(Department).limit(2)))
                rooms = len(first)
            unrouted = chat is None or chat.department_id is None
            choices: Choices | None = () if unrouted else None
            if rooms > 1 and (unrouted or (pick is not None and chat.state == ChatState.WAITING)):
                # Until an agent accepts, the customer may still (re)choose by name.
                listed = await departments(session)
                key = pick(listed) if pick is not None else None
                if key is None and unrouted and prefer is not None:
                    key = prefer(listed)
                if key is not None:
                    return Picked(key)
                choices = listed if unrouted else None
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            customer = await stored_customer(session, turn, known, now)
            opened = chat is None
            department = None
            if chat is None:
                # With several departments the customer picks one first; until then the
                # chat waits without one.
                department = first[0] if rooms == 1 else None
                announce_at = now + self.policy.unanswered_after if department else None
                chat = await new_chat(session, customer.id, department, announce_at, now)
                if department is not None:
                    await self._hold(session, chat, customer)
            self._note(
                session,
                chat.id,
                MessageKind.INCOMING,
                customer.name,
                turn.text,
                source_key=turn.source_key,
                attachments=list(turn.attachments),
            )
            if opened:
                await session.flush()
                view = _opened_view(chat, customer, department, turn.text)
                found = await audience(session, chat.id, now=now)
                self._enqueue(session, on_open(view, found), now)
                return Opened(view)
            self._enqueue(session, on_append(chat.id, choices), now)
            slowed = chat.slowed_until is not None and chat.slowed_until > now
            if recent + 1 > flood.messages and not slowed:
                chat.slowed_until = now + timedelta(seconds=flood.window)
                self._enqueue(session, on_flood(), now)
            return Appended(chat.id)

    # -- agents ----------------------------------------------------------------------------

    async def accept_chat(
        self,
        chat_id: int,
        person: Person,
        *,
        on_accepted: ViewCompose,
        on_taken: ViewCompose,
        on_full: Callable[[ChatView, int], list[Outgoing]],
    ) -> Accepted | AlreadyTaken | AtCapacity | NoSuchChat:
        """The Accept race: one conditional UPDATE from waiting to active decides the winner.

        The same WHERE holds the agent's capacity: the count of the chats they own must
        stay below the department's limit (or the bridge's default). The agent's row is
        locked first so that two of their own Accepts cannot both pass the count.
        """
        async with self._transaction() as session:
            now = self.clock()
            agent = await self._agent(session, person)
            await session.execute(select(Agent.id).where(Agent.id == agent.id).with_for_update())
            owned = aliased(Chat)
            open_count = (
                select(func.count(owned.id))
                .where(owned.owner_id == agent.id, owned.state == ChatState.ACTIVE)
                .scalar_subquery()
            )
            limit = (
                select(
                    func.coalesce(
                        Department.capacity,
                        bindparam("p_default", self.policy.default_capacity, type_=Integer()),
                    )
                )
                .where(Department.id == Chat.department_id)
                .scalar_subquery()
            )
            result = await session.execute(
                update(Chat)
                .where(
                    Chat.id == chat_id,
                    Chat.state == ChatState.WAITING,
                    Chat.department_id.is_not(None),
                    or_(limit.is_(None), open_count < limit),
                )
                .values(
                    state=ChatState.ACTIVE,
                    owner_id=agent.id,
                    accepted_at=now,
                    version=Chat.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                if await session.get(Chat, chat_id) is None:
                    return NoSuchChat()
                view = await self._view(session, chat_id)
                if view.state == ChatState.WAITING and view.room_reference is not None:
                    capacity = await session.scalar(
                        select(func.coalesce(Department.capacity, self.policy.default_capacity))
                        .join(Chat, Chat.department_id == Department.id)
                        .where(Chat.id == chat_id)
                    )
                    self._enqueue(session, on_full(view, capacity or 0), now)
                    return AtCapacity(view, capacity or 0)
                self._enqueue(session, on_taken(view), now)
                return AlreadyTaken(view)
            await self._seat(session, chat_id, agent.id, ParticipantRole.OWNER)
            department_id = await session.scalar(
                select(Chat.department_id).where(Chat.id == chat_id)
            )
            if department_id is not None:
                await add_member(session, department_id, agent.id, now)
            self._note(
                session,
                chat_id,
                MessageKind.ACTIVITY,
                agent.name,
                "chat.accepted",
                agent_id=agent.id,
            )
            await session.flush()
            view = await self._view(session, chat_id)
            self._enqueue(session, on_accepted(view), now)
            return Accepted(view)

    async def chat_for_thread(self, thread_id: str) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(select(Chat.id).where(Chat.thread_id == thread_id))

    async def agent_message(
        self,
        thread_id: str,
        person: Person,
        text: str,
        source_key: str,
        dedupe_keys: Sequence[str],
        *,
        on_relay: Callable[[int, dict[str, Any]], list[Outgoing]],
        on_refused: ViewCompose,
        attachments: Sequence[dict[str, Any]] = (),
        on_kept: ViewCompose | None = None,
    ) -> Duplicate | Relayed | KeptAsNote | NotAllowed | NoSuchChat:
        """Relay a thread reply to the customer if its writer takes part in an open chat.

        With ``on_kept``, a reply that cannot be relayed while the chat is open is kept as
        an internal note (colleagues talk in the thread; as notes in Zendesk or
        Intercom), and ``on_kept`` tells the writer once per chat: only with their
        first such note, so a conversation among colleagues is not answered each time.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            chat = await session.scalar(select(Chat).where(Chat.thread_id == thread_id))
            if chat is None:
                return NoSuchChat()
            agent = await self._agent(session, person)
            participant = await session.scalar(
                select(Participant.id).where(
                    Participant.chat_id == chat.id,
                    Participant.agent_id == agent.id,
                    Participant.left_at.is_(None),
                )
            )
            relayed = participant is not None and chat.state == ChatState.ACTIVE
            view = None if relayed else await self._view(session, chat.id)
            if view is not None and (on_kept is None or chat.state == ChatState.CLOSED):
                self._enqueue(session, on_refused(view), now)
                return NotAllowed(view)
            noted_before = (
                None
                if relayed
                else await session.scalar(
                    select(Message.id)
                    .where(
                        Message.chat_id == chat.id,
                        Message.agent_id == agent.id,
                        Message.kind == MessageKind.NOTE,
                    )
                    .limit(1)
                )
            )
            self._note(
                session,
                chat.id,
                MessageKind.OUTGOING if relayed else MessageKind.NOTE,
                agent.name,
                text,
                agent_id=agent.id,
                source_key=source_key,
                attachments=list(attachments),
            )
            if view is not None:
                if noted_before is None and on_kept is not None:
                    self._enqueue(session, on_kept(view), now)
                return KeptAsNote(view)
            if chat.first_reply_at is None:
                chat.first_reply_at = now
            customer = await session.get(Customer, chat.customer_id)
            assert customer is not None
            self._enqueue(session, on_relay(chat.id, customer.reference), now)
            return Relayed(chat.id)

    async def close_chat(
        self,
        chat_id: int,
        person: Person,
        *,
        on_closed: ViewCompose,
        on_refused: ViewCompose,
        on_already: ViewCompose,
        on_untagged: ViewCompose | None = None,
    ) -> Closed | NotAllowed | AlreadyClosed | TagRequired | NoSuchChat:
        """Close a chat; only its owner or a supervisor of its department may.

        Where the department requires a tag, a chat without one stays open
        (``on_untagged``; the precondition is part of the same conditional UPDATE).
        """
        async with self._transaction() as session:
            now = self.clock()
            chat = await session.get(Chat, chat_id)
            if chat is None:
                return NoSuchChat()
            agent = await self._agent(session, person)
            supervises = exists().where(
                Supervisor.agent_id == agent.id, Supervisor.department_id == Chat.department_id
            )
            tagged_enough = or_(
                ~exists().where(TagRequirement.department_id == Chat.department_id),
                exists().where(ChatTag.chat_id == Chat.id),
            )
            result = await session.execute(
                update(Chat)
                .where(
                    Chat.id == chat_id,
                    Chat.state != ChatState.CLOSED,
                    or_(Chat.owner_id == agent.id, supervises),
                    tagged_enough,
                )
                .values(
                    state=ChatState.CLOSED,
                    closed_at=now,
                    closed_by_id=agent.id,
                    version=Chat.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
            view = await self._view(session, chat_id)
            if result.rowcount != 1 and view.state != ChatState.CLOSED and on_untagged:
                allowed = await session.scalar(
                    select(Chat.id).where(
                        Chat.id == chat_id, or_(Chat.owner_id == agent.id, supervises)
                    )
                )
                if allowed is not None:
                    self._enqueue(session, on_untagged(view), now)
                    return TagRequired(view)
            if result.rowcount != 1:
                compose = on_already if view.state == ChatState.CLOSED else on_refused
                self._enqueue(session, compose(view), now)
                outcome = AlreadyClosed if view.state == ChatState.CLOSED else NotAllowed
                return outcome(view)
            await session.execute(
                update(Participant)
                .where(and_(Participant.chat_id == chat_id, Participant.left_at.is_(None)))
                .values(left_at=now)
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                update(Offer)
                .where(Offer.chat_id == chat_id, Offer.state == OfferState.PENDING)
                .values(state=OfferState.WITHDRAWN, decided_at=now)
                .execution_options(synchronize_session=False)
            )
            self._note(
                session, chat_id, MessageKind.ACTIVITY, agent.name, "chat.closed", agent_id=agent.id
            )
            self._enqueue(session, on_closed(view), now)
            return Closed(view)

    # -- transcripts -----------------------------------------------------------------------

    async def transcript(self, chat_id: int) -> Transcript | None:
        async with self._sessions() as session:
            if await session.get(Chat, chat_id) is None:
                return None
            view = await self._view(session, chat_id)
            people = await session.execute(
                select(Agent.name, Participant.role)
                .join(Agent, Agent.id == Participant.agent_id)
                .where(Participant.chat_id == chat_id)
                .order_by(Participant.id)
            )
            lines = await session.scalars(
                select(Message).where(Message.chat_id == chat_id).order_by(Message.id)
            )
            return Transcript(
                chat=view,
                participants=tuple((name, role) for name, role in people),
                lines=tuple(
                    TranscriptLine(
                        kind=m.kind,
                        author=m.author,
                        text=m.text,
                        at=m.created_at,
                        attachments=tuple(m.attachments or ()),
                    )
                    for m in lines
                ),
            )

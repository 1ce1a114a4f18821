"""Team moves inside a chat: Invite, Transfer, Join, Leave, supervisors, and the chat lists.

Each move is one transaction whose precondition (who may do it, in which state) is
read from the database, never from the card that was pressed: a forged or replayed
action finds no row to change and is refused with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.core import ChatView, Duplicate, NoSuchChat, Person, StoreCore, ViewCompose
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Customer,
    Department,
    MessageKind,
    Offer,
    OfferKind,
    OfferState,
    Participant,
    ParticipantRole,
    Supervisor,
)
from store.outbox import Outgoing

HISTORY_LIMIT = 10
OPEN_LIST_LIMIT = 30


@dataclass(frozen=True)
class Refused:
    """The move is not allowed now; ``reason`` names the locale text that says why."""

    chat: ChatView
    reason: str


@dataclass(frozen=True)
class OfferView:
    id: int
    kind: OfferKind
    state: OfferState
    sender: Person
    recipient: Person


@dataclass(frozen=True)
class Offered:
    chat: ChatView
    offer: OfferView


@dataclass(frozen=True)
class Moved:
    """A move that changed the chat (joined, left, transfer taken, offer declined)."""

    chat: ChatView
    offer: OfferView | None = None


@dataclass(frozen=True)
class RoomRefused:
    """A room command refused: not a room, or not a supervisor of it."""

    reason: str


@dataclass(frozen=True)
class SupervisorsChanged:
    department: str
    supervisors: tuple[Person, ...]


@dataclass(frozen=True)
class ListedChat:
    id: int
    ref: str
    state: ChatState
    customer_name: str
    owner_name: str | None
    thread_id: str | None
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class ChatList:
    department: str
    chats: tuple[ListedChat, ...]
    more: bool
    now: datetime


OfferCompose = Callable[[ChatView, OfferView], list[Outgoing]]
RefusalCompose = Callable[[ChatView, str], list[Outgoing]]


def _person(agent: Agent) -> Person:
    return Person(agent.teams_id, agent.name, agent.aad_object_id)


class TeamMoves(StoreCore):
    """Who takes part in a chat, and the lists a room asks for."""

    async def _participant(
        self, session: AsyncSession, chat_id: int, agent_id: int
    ) -> Participant | None:
        return await session.scalar(
            select(Participant).where(
                Participant.chat_id == chat_id,
                Participant.agent_id == agent_id,
                Participant.left_at.is_(None),
            )
        )

    async def _chat_and_agent(
        self, session: AsyncSession, dedupe_keys: Sequence[str], chat_id: int, person: Person
    ) -> tuple[Chat, Agent] | Duplicate | NoSuchChat:
        """How every move starts: once per inbound activity, on a chat that exists."""
        if not await self._first_time(session, dedupe_keys):
            return Duplicate()
        chat = await session.get(Chat, chat_id)
        if chat is None:
            return NoSuchChat()
        return chat, await self._agent(session, person)

    async def _bump(self, session: AsyncSession, chat_id: int) -> None:
        """A new card version: participants changed, so every card shown is out of date."""
        await session.execute(
            update(Chat)
            .where(Chat.id == chat_id)
            .values(version=Chat.version + 1)
            .execution_options(synchronize_session=False)
        )

    async def _is_supervisor(self, session: AsyncSession, agent_id: int, chat: Chat) -> bool:
        found = await session.scalar(
            select(Supervisor.id).where(
                Supervisor.agent_id == agent_id, Supervisor.department_id == chat.department_id
            )
        )
        return found is not None

    async def _offer_view(self, session: AsyncSession, offer: Offer) -> OfferView:
        sender = await session.get(Agent, offer.from_agent_id)
        recipient = await session.get(Agent, offer.to_agent_id)
        assert sender is not None and recipient is not None
        return OfferView(offer.id, offer.kind, offer.state, _person(sender), _person(recipient))

    async def _refuse(
        self, session: AsyncSession, chat_id: int, reason: str, on_refused: RefusalCompose
    ) -> Refused:
        view = await self._view(session, chat_id)
        self._enqueue(session, on_refused(view, reason), self.clock())
        return Refused(view, reason)

    # -- invite and transfer -------------------------------------------------------------

    async def offer(
        self,
        chat_id: int,
        kind: OfferKind,
        sender: Person,
        recipient: Person,
        expires_in: timedelta,
        dedupe_keys: Sequence[str],
        *,
        on_offered: OfferCompose,
        on_refused: RefusalCompose,
    ) -> Offered | Refused | Duplicate | NoSuchChat:
        """Invite a colleague into an active chat, or offer them its ownership.

        Any participant may invite; only the owner may transfer. The recipient must
        be online and not in the chat already; one transfer at a time per chat.
        """
        async with self._transaction() as session:
            found = await self._chat_and_agent(session, dedupe_keys, chat_id, sender)
            if not isinstance(found, tuple):
                return found
            chat, actor = found
            if chat.state != ChatState.ACTIVE:
                return await self._refuse(session, chat_id, "offer_not_active", on_refused)
            if kind == OfferKind.TRANSFER and chat.owner_id != actor.id:
                return await self._refuse(session, chat_id, "transfer_not_owner", on_refused)
            if await self._participant(session, chat_id, actor.id) is None:
                return await self._refuse(session, chat_id, "invite_not_participant", on_refused)
            target = await session.scalar(select(Agent).where(Agent.teams_id == recipient.teams_id))
            if target is None or target.availability != Availability.ONLINE:
                return await self._refuse(session, chat_id, "recipient_offline", on_refused)
            # A transfer may go to a colleague already helping in the chat; an invitation not.
            inside = kind == OfferKind.INVITE and await self._participant(
                session, chat_id, target.id
            )
            if target.id == actor.id or inside:
                return await self._refuse(session, chat_id, "recipient_in_chat", on_refused)
            pending = await session.scalar(
                select(Offer.id).where(
                    Offer.chat_id == chat_id,
                    Offer.state == OfferState.PENDING,
                    Offer.kind == kind,
                    (Offer.to_agent_id == target.id) if kind == OfferKind.INVITE else true(),
                )
            )
            if pending is not None:
                return await self._refuse(session, chat_id, f"{kind.value}_pending", on_refused)
            now = self.clock()
            offer = Offer(
                chat_id=chat_id,
                kind=kind,
                from_agent_id=actor.id,
                to_agent_id=target.id,
                state=OfferState.PENDING,
                created_at=now,
                expires_at=now + expires_in,
            )
            session.add(offer)
            await session.flush()
            view = await self._view(session, chat_id)
            offered = await self._offer_view(session, offer)
            self._enqueue(session, on_offered(view, offered), now)
            return Offered(view, offered)

    async def answer_offer(
        self,
        chat_id: int,
        offer_id: int | None,
        person: Person,
        kind: OfferKind | None,
        dedupe_keys: Sequence[str],
        *,
        accept: bool,
        on_answered: OfferCompose,
        on_refused: RefusalCompose,
    ) -> Moved | Refused | Duplicate | NoSuchChat:
        """The recipient accepts or declines an invitation or a transfer.

        Only the recipient's own pending offer changes; a replay after a decline or
        an expiry finds nothing pending and is refused. ``offer_id`` None means the
        recipient's pending offer of that kind in this chat (the ``/join`` command);
        ``kind`` None means any kind (Decline names the offer by its id).
        """
        async with self._transaction() as session:
            found = await self._chat_and_agent(session, dedupe_keys, chat_id, person)
            if not isinstance(found, tuple):
                return found
            _, agent = found
            now = self.clock()
            mine = and_(
                Offer.chat_id == chat_id,
                (Offer.kind == kind) if kind is not None else true(),
                Offer.to_agent_id == agent.id,
                Offer.state == OfferState.PENDING,
                (Offer.id == offer_id) if offer_id is not None else true(),
            )
            offer = await session.scalar(select(Offer).where(mine).order_by(Offer.id.desc()))
            if offer is None:
                addressed = offer_id is None or await session.scalar(
                    select(Offer.id).where(Offer.id == offer_id, Offer.to_agent_id == agent.id)
                )
                reason = "offer_closed" if addressed else "offer_not_yours"
                return await self._refuse(session, chat_id, reason, on_refused)
            if accept and offer.kind == OfferKind.TRANSFER:
                taken = await session.execute(
                    update(Chat)
                    .where(
                        Chat.id == chat_id,
                        Chat.state == ChatState.ACTIVE,
                        Chat.owner_id == offer.from_agent_id,
                    )
                    .values(owner_id=agent.id, version=Chat.version + 1)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:
                    return await self._refuse(session, chat_id, "offer_closed", on_refused)
                await session.execute(
                    update(Participant)
                    .where(
                        Participant.chat_id == chat_id,
                        Participant.agent_id == offer.from_agent_id,
                        Participant.left_at.is_(None),
                    )
                    .values(left_at=now)
                    .execution_options(synchronize_session=False)
                )
            decided = await session.execute(
                update(Offer)
                .where(Offer.id == offer.id, Offer.state == OfferState.PENDING)
                .values(
                    state=OfferState.ACCEPTED if accept else OfferState.DECLINED, decided_at=now
                )
                .execution_options(synchronize_session=False)
            )
            if decided.rowcount != 1:
                return await self._refuse(session, chat_id, "offer_closed", on_refused)
            await session.refresh(offer)
            if accept:
                transfer = offer.kind == OfferKind.TRANSFER
                role = ParticipantRole.OWNER if transfer else ParticipantRole.INVITED
                await self._seat(session, chat_id, agent.id, role)
                if not transfer:
                    await self._bump(session, chat_id)
                event = "chat.transferred" if transfer else "chat.invite_accepted"
                self._note(
                    session, chat_id, MessageKind.ACTIVITY, agent.name, event, agent_id=agent.id
                )
            view = await self._view(session, chat_id)
            answered = await self._offer_view(session, offer)
            self._enqueue(session, on_answered(view, answered), now)
            return Moved(view, answered)

    async def expire_offers(self, on_expired: OfferCompose, limit: int = 100) -> int:
        """Withdraw pending offers whose time is up; each is claimed by one replica only."""
        async with self._sessions() as session:
            due = list(
                await session.scalars(
                    select(Offer.id)
                    .where(Offer.state == OfferState.PENDING, Offer.expires_at <= self.clock())
                    .order_by(Offer.expires_at)
                    .limit(limit)
                )
            )
        expired = 0
        for offer_id in due:
            async with self._transaction() as session:
                now = self.clock()
                claimed = await session.execute(
                    update(Offer)
                    .where(Offer.id == offer_id, Offer.state == OfferState.PENDING)
                    .values(state=OfferState.EXPIRED, decided_at=now)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount != 1:
                    continue
                offer = await session.get(Offer, offer_id, populate_existing=True)
                assert offer is not None
                view = await self._view(session, offer.chat_id)
                self._enqueue(
                    session, on_expired(view, await self._offer_view(session, offer)), now
                )
                expired += 1
        return expired

    # -- join and leave --------------------------------------------------------------------

    async def join(
        self,
        chat_id: int,
        person: Person,
        dedupe_keys: Sequence[str],
        *,
        team_owner: bool = False,
        on_joined: ViewCompose,
        on_refused: RefusalCompose,
    ) -> Moved | Refused | Duplicate | NoSuchChat:
        """A supervisor of the chat's department (or an owner of the team, as the Bot
        Connector's roster says) joins it to monitor and to help."""
        async with self._transaction() as session:
            found = await self._chat_and_agent(session, dedupe_keys, chat_id, person)
            if not isinstance(found, tuple):
                return found
            chat, agent = found
            now = self.clock()
            if chat.state == ChatState.CLOSED:
                return await self._refuse(session, chat_id, "join_closed", on_refused)
            if await self._participant(session, chat_id, agent.id) is not None:
                return await self._refuse(session, chat_id, "already_in_chat", on_refused)
            if not team_owner and not await self._is_supervisor(session, agent.id, chat):
                return await self._refuse(session, chat_id, "join_not_supervisor", on_refused)
            await self._seat(session, chat_id, agent.id, ParticipantRole.SUPERVISOR)
            await self._bump(session, chat_id)
            self._note(
                session,
                chat_id,
                MessageKind.ACTIVITY,
                agent.name,
                "chat.supervisor_joined",
                agent_id=agent.id,
            )
            view = await self._view(session, chat_id)
            self._enqueue(session, on_joined(view), now)
            return Moved(view)

    async def has_pending_invite(self, chat_id: int, person: Person) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(Offer.id)
                .join(Agent, Agent.id == Offer.to_agent_id)
                .where(
                    Offer.chat_id == chat_id,
                    Offer.kind == OfferKind.INVITE,
                    Offer.state == OfferState.PENDING,
                    Agent.teams_id == person.teams_id,
                )
            )
            return found is not None

    async def leave(
        self,
        chat_id: int,
        person: Person,
        dedupe_keys: Sequence[str],
        *,
        on_left: Callable[[ChatView, ParticipantRole], list[Outgoing]],
        on_refused: RefusalCompose,
    ) -> Moved | Refused | Duplicate | NoSuchChat:
        """A participant other than the owner leaves; the owner transfers or closes instead."""
        async with self._transaction() as session:
            found = await self._chat_and_agent(session, dedupe_keys, chat_id, person)
            if not isinstance(found, tuple):
                return found
            _, agent = found
            now = self.clock()
            seat = await self._participant(session, chat_id, agent.id)
            if seat is None:
                return await self._refuse(session, chat_id, "leave_not_participant", on_refused)
            if seat.role == ParticipantRole.OWNER:
                return await self._refuse(session, chat_id, "leave_owner", on_refused)
            left = await session.execute(
                update(Participant)
                .where(Participant.id == seat.id, Participant.left_at.is_(None))
                .values(left_at=now)
                .execution_options(synchronize_session=False)
            )
            if left.rowcount != 1:
                return await self._refuse(session, chat_id, "leave_not_participant", on_refused)
            await self._bump(session, chat_id)
            self._note(
                session, chat_id, MessageKind.ACTIVITY, agent.name, "chat.left", agent_id=agent.id
            )
            view = await self._view(session, chat_id)
            self._enqueue(session, on_left(view, seat.role), now)
            return Moved(view)

    async def online_agents(self, teams_ids: Sequence[str] | None) -> list[Person]:
        """Online agents, among ``teams_ids`` (a team's roster) when given."""
        async with self._sessions() as session:
            query = select(Agent).where(Agent.availability == Availability.ONLINE)
            if teams_ids is not None:
                query = query.where(Agent.teams_id.in_(list(teams_ids)))
            return [_person(agent) for agent in await session.scalars(query.order_by(Agent.name))]

    async def agent_named(self, teams_id: str) -> Person | None:
        async with self._sessions() as session:
            agent = await session.scalar(select(Agent).where(Agent.teams_id == teams_id))
            return _person(agent) if agent else None

    async def offer_of(self, chat_id: int, offer_id: int) -> tuple[ChatView, OfferView] | None:
        """An invitation or transfer of a chat, with the chat (None: not one of its offers)."""
        async with self._sessions() as session:
            offer = await session.get(Offer, offer_id)
            if offer is None or offer.chat_id != chat_id:
                return None
            return await self._view(session, chat_id), await self._offer_view(session, offer)

    async def chat_view(self, chat_id: int) -> ChatView | None:
        async with self._sessions() as session:
            if await session.get(Chat, chat_id) is None:
                return None
            return await self._view(session, chat_id)

    # -- supervisors -----------------------------------------------------------------------

    async def change_supervisor(
        self,
        channel_id: str,
        actor: Person,
        target: Person,
        *,
        add: bool,
        dedupe_keys: Sequence[str],
        compose: Callable[[SupervisorsChanged | RoomRefused], list[Outgoing]],
    ) -> SupervisorsChanged | RoomRefused | Duplicate:
        """A supervisor of a room's department adds or removes another; one always remains."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            department = await session.scalar(
                select(Department).where(Department.channel_id == channel_id)
            )
            outcome: SupervisorsChanged | RoomRefused
            if department is None:
                outcome = RoomRefused("not_a_room")
                self._enqueue(session, compose(outcome), now)
                return outcome
            me = await self._agent(session, actor)
            supervises = exists().where(
                Supervisor.agent_id == me.id, Supervisor.department_id == department.id
            )
            if not await session.scalar(select(supervises)):
                outcome = RoomRefused("supervisor_only")
            else:
                other = await self._agent(session, target)
                count = await session.scalar(
                    select(func.count(Supervisor.id)).where(
                        Supervisor.department_id == department.id
                    )
                )
                if add:
                    await self._insert_ignore(
                        session,
                        Supervisor,
                        {"department_id": department.id, "agent_id": other.id, "created_at": now},
                    )
                elif count == 1 and other.id == me.id:
                    outcome = RoomRefused("last_supervisor")
                    self._enqueue(session, compose(outcome), now)
                    return outcome
                else:
                    await session.execute(
                        Supervisor.__table__.delete().where(
                            Supervisor.department_id == department.id,
                            Supervisor.agent_id == other.id,
                        )
                    )
                names = await session.scalars(
                    select(Agent)
                    .join(Supervisor, Supervisor.agent_id == Agent.id)
                    .where(Supervisor.department_id == department.id)
                    .order_by(Agent.name)
                )
                outcome = SupervisorsChanged(department.name, tuple(_person(a) for a in names))
            self._enqueue(session, compose(outcome), now)
            return outcome

    # -- lists -----------------------------------------------------------------------------

    async def chat_list(
        self, channel_id: str, *, closed: bool, customer: str | None = None
    ) -> ChatList | RoomRefused:
        """The room's open chats (oldest first), or its last closed ones (newest first)."""
        async with self._sessions() as session:
            department = await session.scalar(
                select(Department).where(Department.channel_id == channel_id)
            )
            if department is None:
                return RoomRefused("not_a_room")
            owner = Agent.__table__.alias("owner")
            query = (
                select(
                    Chat.id,
                    Chat.public_id,
                    Chat.state,
                    Customer.name,
                    owner.c.name,
                    Chat.thread_id,
                    Chat.created_at,
                    Chat.accepted_at,
                    Chat.closed_at,
                )
                .join(Customer, Customer.id == Chat.customer_id)
                .outerjoin(owner, owner.c.id == Chat.owner_id)
                .where(Chat.department_id == department.id)
            )
            if closed:
                query = query.where(Chat.state == ChatState.CLOSED).order_by(
                    Chat.closed_at.desc(), Chat.id.desc()
                )
                limit = HISTORY_LIMIT
            else:
                query = query.where(Chat.state != ChatState.CLOSED).order_by(Chat.id)
                limit = OPEN_LIST_LIMIT
            if customer:
                query = query.where(func.lower(Customer.name).contains(customer.lower()))
            rows = (await session.execute(query.limit(limit + 1))).all()
            return ChatList(
                department=department.name,
                chats=tuple(ListedChat(*row) for row in rows[:limit]),
                more=len(rows) > limit,
                now=self.clock(),
            )

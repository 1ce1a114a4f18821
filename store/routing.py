"""Routing transitions: a customer's choice of department, a supervisor's move, the
department's capacity, the roster behind ``who``, and the unanswered-chat timer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audience import Audience, add_member, audience, departments
from store.chats import AppendCompose, CustomerTurn, new_chat, stored_customer
from store.core import ChatView, Duplicate, NoSuchChat, NotAllowed, Person, StoreCore
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Customer,
    Department,
    DepartmentMember,
    MessageKind,
    Supervisor,
)
from store.outbox import Outgoing

T = TypeVar("T")

# ``previous`` is the chat as it was in its old department (its card to mark as moved),
# None when it had none yet.
RouteCompose = Callable[[ChatView, Audience, ChatView | None], list[Outgoing]]


@dataclass(frozen=True)
class Routed:
    chat: ChatView
    audience: Audience


@dataclass(frozen=True)
class Unchanged:
    """The chat already is in that department, or an agent has it: only the text was kept."""

    chat_id: int


@dataclass(frozen=True)
class UnknownDepartment:
    departments: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CapacitySet:
    department: str
    capacity: int | None


@dataclass(frozen=True)
class NotARoom:
    """The command was given in a channel that is no department's room."""


@dataclass(frozen=True)
class NotSupervisor:
    """Only a supervisor of the room's department may do that."""


@dataclass(frozen=True)
class RosterLine:
    name: str
    availability: Availability
    open_chats: int


@dataclass(frozen=True)
class Roster:
    department: str
    capacity: int | None
    agents: tuple[RosterLine, ...]


class Routing(StoreCore):
    """Which department a chat goes to, and who is told about it."""

    async def availability_of(self, person: Person) -> Availability:
        async with self._sessions() as session:
            found = await session.scalar(
                select(Agent.availability).where(Agent.teams_id == person.teams_id)
            )
            return found or Availability.OFFLINE

    async def choose_department(
        self,
        turn: CustomerTurn,
        key: str,
        dedupe_keys: Sequence[str],
        *,
        on_routed: RouteCompose,
        on_kept: AppendCompose,
        on_unknown: Callable[[tuple[tuple[str, str], ...]], list[Outgoing]],
    ) -> Duplicate | Routed | Unchanged | UnknownDepartment:
        """The customer picks (or changes) their chat's department, before anyone accepts it.

        ``turn.text`` (the suggested action's word) is stored like any message; a
        pressed button has no text. A customer with no open chat gets one in that
        department. Once an agent has the chat, the choice changes nothing
        (``on_kept`` passes the text on, as for any message).
        """
        return await self._settling_conflicts(
            lambda: self._choose_department(turn, key, dedupe_keys, on_routed, on_kept, on_unknown),
            "department choice",
        )

    async def _choose_department(
        self,
        turn: CustomerTurn,
        key: str,
        dedupe_keys: Sequence[str],
        on_routed: RouteCompose,
        on_kept: AppendCompose,
        on_unknown: Callable[[tuple[tuple[str, str], ...]], list[Outgoing]],
    ) -> Duplicate | Routed | Unchanged | UnknownDepartment:
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            department = await session.scalar(select(Department).where(Department.key == key))
            if department is None:
                known = await departments(session)
                self._enqueue(session, on_unknown(known), now)
                return UnknownDepartment(known)
            known = await session.scalar(
                select(Customer).where(
                    Customer.channel_id == turn.channel_id, Customer.user_id == turn.user_id
                )
            )
            customer = await stored_customer(session, turn, known, now)
            chat = await session.scalar(
                select(Chat).where(Chat.customer_id == customer.id, Chat.state != ChatState.CLOSED)
            )
            if chat is None:
                chat = await new_chat(session, customer.id, None, None, now)
            elif chat.department_id == department.id or chat.state != ChatState.WAITING:
                self._keep_text(session, chat.id, customer.name, turn)
                choices = await departments(session) if chat.department_id is None else None
                self._enqueue(session, on_kept(chat.id, choices), now)
                return Unchanged(chat.id)
            previous = await self._view(session, chat.id) if chat.department_id else None
            self._keep_text(session, chat.id, customer.name, turn)
            outcome = await self._routed(
                session, chat.id, department.id, previous, on_routed, hold_for=customer
            )
            if isinstance(outcome, Unchanged):
                # An agent accepted the chat meanwhile: the text goes to them as usual.
                self._enqueue(session, on_kept(chat.id, None), now)
            return outcome

    def _keep_text(
        self, session: AsyncSession, chat_id: int, author: str, turn: CustomerTurn
    ) -> None:
        if turn.text:
            self._note(
                session,
                chat_id,
                MessageKind.INCOMING,
                author,
                turn.text,
                source_key=turn.source_key,
                attachments=list(turn.attachments),
            )

    async def _routed(
        self,
        session: AsyncSession,
        chat_id: int,
        department_id: int,
        previous: ChatView | None,
        on_routed: RouteCompose,
        *,
        hold_for: Customer | None = None,
    ) -> Routed | Unchanged:
        """Give a waiting chat its department; a customer's own choice (``hold_for``: the
        customer) counts against the intake limits like a new chat."""
        now = self.clock()
        result = await session.execute(
            update(Chat)
            .where(Chat.id == chat_id, Chat.state == ChatState.WAITING)
            .values(
                department_id=department_id,
                announce_at=now + self.policy.unanswered_after,
                version=Chat.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return Unchanged(chat_id)
        if hold_for is not None and previous is None:
            chat = await session.get(Chat, chat_id, populate_existing=True)
            assert chat is not None
            await self._hold(session, chat, hold_for)
        await session.flush()
        view = await self._view(session, chat_id)
        found = await audience(session, chat_id, now=now)
        self._enqueue(session, on_routed(view, found, previous), now)
        return Routed(view, found)

    async def move_chat(
        self,
        thread_id: str,
        person: Person,
        department_name: str,
        dedupe_keys: Sequence[str],
        *,
        on_moved: RouteCompose,
        on_refused: Callable[[ChatView], list[Outgoing]],
        on_unknown: Callable[[tuple[tuple[str, str], ...]], list[Outgoing]],
    ) -> Duplicate | Routed | NotAllowed | UnknownDepartment | NoSuchChat:
        """A supervisor of the chat's department moves it, still waiting, to another one."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            chat = await session.scalar(select(Chat).where(Chat.thread_id == thread_id))
            if chat is None:
                return NoSuchChat()
            wanted = department_name.strip().lower()
            target = await session.scalar(
                select(Department).where(
                    (func.lower(Department.name) == wanted) | (Department.key == wanted)
                )
            )
            if target is None:
                known = await departments(session)
                self._enqueue(session, on_unknown(known), now)
                return UnknownDepartment(known)
            agent = await self._agent(session, person)
            supervises = exists().where(
                Supervisor.agent_id == agent.id, Supervisor.department_id == Chat.department_id
            )
            allowed = await session.scalar(
                select(Chat.id).where(
                    Chat.id == chat.id,
                    Chat.state == ChatState.WAITING,
                    Chat.department_id != target.id,
                    supervises,
                )
            )
            previous = await self._view(session, chat.id)
            if allowed is None:
                self._enqueue(session, on_refused(previous), now)
                return NotAllowed(previous)
            outcome = await self._routed(session, chat.id, target.id, previous, on_moved)
            if isinstance(outcome, Unchanged):
                self._enqueue(session, on_refused(previous), now)
                return NotAllowed(previous)
            self._note(
                session, chat.id, MessageKind.ACTIVITY, agent.name, "chat.moved", agent_id=agent.id
            )
            return outcome

    async def roster(
        self,
        person: Person,
        channel_id: str,
        dedupe_keys: Sequence[str],
        *,
        compose: Callable[[Roster | None], list[Outgoing]],
        team: Sequence[Person] = (),
    ) -> Duplicate | Roster | NotARoom:
        """The room's agents with availability and open chats.

        The asker and the ``team`` roster (as the Bot Connector lists it) become members,
        so agents who have not acted in the room yet are listed too.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            department = await session.scalar(
                select(Department).where(Department.channel_id == channel_id)
            )
            if department is None:
                self._enqueue(session, compose(None), now)
                return NotARoom()
            for someone in (person, *team):
                agent = await self._agent(session, someone)
                await add_member(session, department.id, agent.id, now)
            open_chats = (
                select(func.count(Chat.id))
                .where(Chat.owner_id == Agent.id, Chat.state == ChatState.ACTIVE)
                .correlate(Agent)
                .scalar_subquery()
            )
            rows = await session.execute(
                select(Agent.name, Agent.availability, open_chats)
                .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
                .where(DepartmentMember.department_id == department.id)
                .order_by(Agent.name, Agent.id)
            )
            outcome = Roster(
                department=department.name,
                capacity=department.capacity
                if department.capacity is not None
                else self.policy.default_capacity,
                agents=tuple(RosterLine(name, state, count) for name, state, count in rows),
            )
            self._enqueue(session, compose(outcome), now)
            return outcome

    async def announce_unanswered(
        self, compose: Callable[[ChatView, Audience], list[Outgoing]], limit: int = 100
    ) -> int:
        """Announce again the chats nobody accepted in time; each one fires once.

        Each due chat is claimed by clearing its ``announce_at`` in a conditional
        UPDATE; a replica that loses the claim (row count 0) announces nothing.
        """
        now = self.clock()
        async with self._sessions() as session:
            due = (
                await session.execute(
                    select(Chat.id, Chat.held)
                    .where(Chat.announce_at <= now, Chat.state == ChatState.WAITING)
                    .order_by(Chat.announce_at)
                    .limit(limit)
                )
            ).all()
        fired = 0
        for chat_id, held in due:
            async with self._transaction() as session:
                # A held chat is released (its card posted now, announced again later).
                result = await session.execute(
                    update(Chat)
                    .where(
                        Chat.id == chat_id,
                        Chat.announce_at <= now,
                        Chat.state == ChatState.WAITING,
                        Chat.held == held,
                    )
                    .values(
                        announce_at=now + self.policy.unanswered_after if held else None, held=False
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:
                    continue
                view = replace(await self._view(session, chat_id), held=held)
                self._enqueue(session, compose(view, await audience(session, chat_id)), now)
                fired += 1
        return fired

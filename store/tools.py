"""Agents' tools: canned answers, tags, internal notes and the typing throttle.

Supervisors manage a department's canned answers and tags in its room; whether
someone supervises is read from the ``supervisors`` table inside the transaction
that makes the change, never taken from what a card or a message claims.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Exists, Row, Select, delete, exists, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.core import ChatView, Duplicate, NoSuchChat, NotAllowed, Person, StoreCore, ViewCompose
from store.models import (
    Agent,
    CannedAnswer,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    Department,
    Message,
    MessageKind,
    Participant,
    Supervisor,
    Tag,
    TagRequirement,
    TypingMark,
    UTCDateTime,
)
from store.outbox import Outgoing
from store.tagkeys import tag_key

TO_THREAD = "to_thread"
TO_CUSTOMER = "to_customer"


def _known(rows: Any) -> dict[str, int]:
    """A department's tags by key: what a typed name finds, with or without its marks."""
    return {tag_key(name): tag_id for name, tag_id in rows}


@dataclass(frozen=True)
class Canned:
    shortcut: str
    text: str
    company_wide: bool


@dataclass(frozen=True)
class CannedSet:
    """The canned answers usable somewhere, and whom ``{customer}`` would name there.

    ``in_chat``: the thread asked about is a chat's thread.
    """

    department: str | None
    answers: tuple[Canned, ...]
    customer_name: str | None = None
    in_chat: bool = False


# Outcomes of the supervisors' commands; callers match on the type.
@dataclass(frozen=True)
class NoRoom:
    """The command was given in a channel that is no department's room."""


@dataclass(frozen=True)
class NotSupervisor:
    department: str


@dataclass(frozen=True)
class CannedAdded:
    shortcut: str


@dataclass(frozen=True)
class CannedExists:
    shortcut: str


@dataclass(frozen=True)
class CannedRemoved:
    shortcut: str


@dataclass(frozen=True)
class CannedMissing:
    shortcut: str


@dataclass(frozen=True)
class TagsAdded:
    added: tuple[str, ...]
    existing: tuple[str, ...]


@dataclass(frozen=True)
class TagRemoved:
    name: str


@dataclass(frozen=True)
class TagMissing:
    name: str


@dataclass(frozen=True)
class TagRuleSet:
    required: bool


ManageOutcome = (
    NoRoom
    | NotSupervisor
    | CannedAdded
    | CannedExists
    | CannedRemoved
    | CannedMissing
    | TagsAdded
    | TagRemoved
    | TagMissing
    | TagRuleSet
)
ManageCompose = Callable[[ManageOutcome], list[Outgoing]]


# Outcomes of tagging a chat.
@dataclass(frozen=True)
class Tagged:
    chat: ChatView


@dataclass(frozen=True)
class UnknownTags:
    unknown: tuple[str, ...]
    known: tuple[str, ...]
    chat: ChatView


@dataclass(frozen=True)
class NoteRefused:
    """Not a participant or supervisor of an open chat: the note was not kept."""


@dataclass(frozen=True)
class NoteAdded:
    chat_id: int


@dataclass(frozen=True)
class Throttled:
    """A typing indicator that was not passed on (too soon after the last one, or no chat)."""


@dataclass(frozen=True)
class TypingPassed:
    chat_id: int


def in_chat_or_supervising(agent_id: int) -> tuple[Exists, Exists]:
    """Conditions on ``Chat`` for a WHERE: the agent is a current participant of the chat,
    and the agent supervises its department."""
    takes_part = exists().where(
        Participant.chat_id == Chat.id,
        Participant.agent_id == agent_id,
        Participant.left_at.is_(None),
    )
    supervises = exists().where(
        Supervisor.agent_id == agent_id, Supervisor.department_id == Chat.department_id
    )
    return takes_part, supervises


class Tools(StoreCore):
    """Canned answers, tags, notes and typing."""

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    async def _room(session: AsyncSession, channel_id: str) -> Department | None:
        return await session.scalar(
            select(Department).where(Department.channel_id == channel_id).order_by(Department.id)
        )

    async def _supervised_room(
        self, session: AsyncSession, agent: Agent, channel_id: str
    ) -> Department | NoRoom | NotSupervisor:
        """The room's department if ``agent`` supervises it."""
        department = await self._room(session, channel_id)
        if department is None:
            return NoRoom()
        supervises = await session.scalar(
            select(Supervisor.id).where(
                Supervisor.department_id == department.id, Supervisor.agent_id == agent.id
            )
        )
        return department if supervises is not None else NotSupervisor(department.name)

    async def _manage(
        self,
        person: Person,
        channel_id: str,
        dedupe_keys: Sequence[str],
        compose: ManageCompose,
        change: Callable[[AsyncSession, Department, int], Awaitable[ManageOutcome]],
    ) -> ManageOutcome | Duplicate:
        """Run a supervisor's change of a room's lists, once per inbound activity."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            agent = await self._agent(session, person)
            found = await self._supervised_room(session, agent, channel_id)
            if isinstance(found, Department):
                outcome: ManageOutcome = await change(session, found, agent.id)
            else:
                outcome = found
            self._enqueue(session, compose(outcome), now)
            return outcome

    # -- canned answers --------------------------------------------------------------------

    async def add_canned(
        self,
        person: Person,
        channel_id: str,
        shortcut: str,
        text: str,
        dedupe_keys: Sequence[str],
        compose: ManageCompose,
    ) -> ManageOutcome | Duplicate:
        """Add a canned answer to the room's department; an existing shortcut is kept."""

        async def change(session: AsyncSession, department: Department, by: int) -> ManageOutcome:
            added = await self._insert_ignore(
                session,
                CannedAnswer,
                {
                    "department_id": department.id,
                    "shortcut": shortcut,
                    "text": text,
                    "created_by_id": by,
                    "created_at": self.clock(),
                },
            )
            return CannedAdded(shortcut) if added else CannedExists(shortcut)

        return await self._manage(person, channel_id, dedupe_keys, compose, change)

    async def remove_canned(
        self,
        person: Person,
        channel_id: str,
        shortcut: str,
        dedupe_keys: Sequence[str],
        compose: ManageCompose,
    ) -> ManageOutcome | Duplicate:
        async def change(session: AsyncSession, department: Department, by: int) -> ManageOutcome:
            result = await session.execute(
                delete(CannedAnswer).where(
                    CannedAnswer.department_id == department.id, CannedAnswer.shortcut == shortcut
                )
            )
            return CannedRemoved(shortcut) if result.rowcount else CannedMissing(shortcut)

        return await self._manage(person, channel_id, dedupe_keys, compose, change)

    async def canned_answers(
        self, *, channel_id: str | None = None, thread_id: str | None = None
    ) -> CannedSet:
        """The answers usable in a chat's thread (its department's) or in a room.

        Company-wide answers (no department) are usable everywhere; a department's
        own answer wins over a company-wide one with the same shortcut.
        """
        async with self._sessions() as session:
            department: Department | None = None
            customer_name = None
            if thread_id is not None:
                row = (
                    await session.execute(
                        select(Chat.department_id, Customer.name)
                        .join(Customer, Customer.id == Chat.customer_id)
                        .where(Chat.thread_id == thread_id)
                    )
                ).one_or_none()
                if row is not None:
                    customer_name = row.name
                    if row.department_id is not None:
                        department = await session.get(Department, row.department_id)
            if department is None and channel_id is not None:
                department = await self._room(session, channel_id)
            scope = CannedAnswer.department_id.is_(None)
            if department is not None:
                scope = or_(scope, CannedAnswer.department_id == department.id)
            rows = await session.scalars(
                select(CannedAnswer)
                .where(scope)
                .order_by(CannedAnswer.shortcut, CannedAnswer.department_id.is_(None))
            )
            answers: dict[str, Canned] = {}
            for row in rows:
                answers.setdefault(
                    row.shortcut, Canned(row.shortcut, row.text, row.department_id is None)
                )
            return CannedSet(
                department=department.name if department else None,
                answers=tuple(answers.values()),
                customer_name=customer_name,
                in_chat=customer_name is not None,
            )

    # -- tags ------------------------------------------------------------------------------

    async def add_tags(
        self,
        person: Person,
        channel_id: str,
        names: Sequence[str],
        dedupe_keys: Sequence[str],
        compose: ManageCompose,
    ) -> ManageOutcome | Duplicate:
        async def change(session: AsyncSession, department: Department, by: int) -> ManageOutcome:
            added, existing = [], []
            taken = {
                tag_key(name)
                for name in await session.scalars(
                    select(Tag.name).where(Tag.department_id == department.id)
                )
            }
            for name in names:
                if tag_key(name) in taken:  # "hoa-don" when "hóa-đơn" exists
                    existing.append(name)
                    continue
                taken.add(tag_key(name))
                fresh = await self._insert_ignore(
                    session,
                    Tag,
                    {"department_id": department.id, "name": name, "created_at": self.clock()},
                )
                (added if fresh else existing).append(name)
            return TagsAdded(tuple(added), tuple(existing))

        return await self._manage(person, channel_id, dedupe_keys, compose, change)

    async def remove_tag(
        self,
        person: Person,
        channel_id: str,
        name: str,
        dedupe_keys: Sequence[str],
        compose: ManageCompose,
    ) -> ManageOutcome | Duplicate:
        """Remove a tag from the list and from the chats that carry it."""

        async def change(session: AsyncSession, department: Department, by: int) -> ManageOutcome:
            rows = await session.execute(
                select(Tag.name, Tag.id).where(Tag.department_id == department.id)
            )
            found = [(n, i) for n, i in rows if tag_key(n) == tag_key(name)]
            if not found:
                return TagMissing(name)
            stored, tag_id = found[0]
            await session.execute(delete(ChatTag).where(ChatTag.tag_id == tag_id))
            await session.execute(delete(Tag).where(Tag.id == tag_id))
            return TagRemoved(stored)

        return await self._manage(person, channel_id, dedupe_keys, compose, change)

    async def require_tag(
        self,
        person: Person,
        channel_id: str,
        required: bool,
        dedupe_keys: Sequence[str],
        compose: ManageCompose,
    ) -> ManageOutcome | Duplicate:
        async def change(session: AsyncSession, department: Department, by: int) -> ManageOutcome:
            if required:
                await self._insert_ignore(
                    session,
                    TagRequirement,
                    {"department_id": department.id, "created_at": self.clock()},
                )
            else:
                await session.execute(
                    delete(TagRequirement).where(TagRequirement.department_id == department.id)
                )
            return TagRuleSet(required)

        return await self._manage(person, channel_id, dedupe_keys, compose, change)

    async def room_tags(self, channel_id: str) -> tuple[str | None, tuple[str, ...], bool]:
        """A room's department name, its tags and whether closing needs one."""
        async with self._sessions() as session:
            department = await self._room(session, channel_id)
            if department is None:
                return None, (), False
            names = await session.scalars(
                select(Tag.name).where(Tag.department_id == department.id).order_by(Tag.name)
            )
            required = await session.get(TagRequirement, department.id)
            return department.name, tuple(names), required is not None

    async def tag_chat(
        self,
        chat_id: int,
        person: Person,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        exactly: Sequence[str] | None = None,
        dedupe_keys: Sequence[str] = (),
        on_tagged: ViewCompose,
        on_unknown: Callable[[UnknownTags], list[Outgoing]],
        on_refused: ViewCompose,
    ) -> Tagged | UnknownTags | NotAllowed | NoSuchChat | Duplicate:
        """Add or remove tags of a chat, or set them ``exactly`` (the card's Tag action).

        Only the chat's participants and its department's supervisors may, while it is
        open: that is the WHERE of the version bump that every change of tags makes.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            chat = await session.get(Chat, chat_id)
            if chat is None:
                return NoSuchChat()
            rows = await session.execute(
                select(Tag.name, Tag.id).where(Tag.department_id == chat.department_id)
            )
            rows = rows.all()
            names = tuple(sorted(name for name, _ in rows))
            by_key = _known(rows)
            known = {
                n: by_key[tag_key(n)]
                for n in (*add, *remove, *(exactly or ()))
                if tag_key(n) in by_key
            }
            named = [*add, *remove, *(exactly or ())]
            unknown = tuple(dict.fromkeys(n for n in named if n not in known))
            if unknown:
                view = await self._view(session, chat_id)
                outcome = UnknownTags(unknown, names, view)
                self._enqueue(session, on_unknown(outcome), now)
                return outcome
            agent = await self._agent(session, person)
            takes_part, supervises = in_chat_or_supervising(agent.id)
            result = await session.execute(
                update(Chat)
                .where(
                    Chat.id == chat_id,
                    Chat.state != ChatState.CLOSED,
                    or_(takes_part, supervises),
                )
                .values(version=Chat.version + 1)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                view = await self._view(session, chat_id)
                self._enqueue(session, on_refused(view), now)
                return NotAllowed(view)
            current = set(
                await session.scalars(select(ChatTag.tag_id).where(ChatTag.chat_id == chat_id))
            )
            wanted = (
                {known[n] for n in exactly}
                if exactly is not None
                else (current | {known[n] for n in add}) - {known[n] for n in remove}
            )
            if current - wanted:
                await session.execute(
                    delete(ChatTag).where(
                        ChatTag.chat_id == chat_id, ChatTag.tag_id.in_(current - wanted)
                    )
                )
            for tag_id in sorted(wanted - current):
                session.add(
                    ChatTag(chat_id=chat_id, tag_id=tag_id, agent_id=agent.id, created_at=now)
                )
            await session.flush()
            view = await self._view(session, chat_id)
            self._enqueue(session, on_tagged(view), now)
            return Tagged(view)

    # -- notes -----------------------------------------------------------------------------

    async def add_note(
        self, chat_id: int, person: Person, text: str, dedupe_keys: Sequence[str]
    ) -> NoteAdded | NoteRefused | Duplicate:
        """Keep an internal note in the chat's transcript; nothing is sent to anyone.

        Only the chat's current participants and its department's supervisors may, and
        only while it is open: the conditions are the WHERE of the INSERT itself.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            agent = await self._agent(session, person)
            participates, supervises = in_chat_or_supervising(agent.id)
            columns = Message.__table__.c
            values = select(
                Chat.id,
                literal(MessageKind.NOTE, columns.kind.type),
                literal(agent.id),
                literal(agent.name, columns.author.type),
                literal(text, columns.text.type),
                literal(dedupe_keys[0][:700] if dedupe_keys else None, columns.source_key.type),
                literal(self.clock(), UTCDateTime()),
            ).where(
                Chat.id == chat_id,
                Chat.state != ChatState.CLOSED,
                or_(participates, supervises),
            )
            result = await session.execute(
                insert(Message).from_select(
                    ["chat_id", "kind", "agent_id", "author", "text", "source_key", "created_at"],
                    values,
                )
            )
            return NoteAdded(chat_id) if result.rowcount == 1 else NoteRefused()

    # -- typing ----------------------------------------------------------------------------

    async def _pass_typing(
        self, session: AsyncSession, chat_id: int, direction: str, interval: float
    ) -> bool:
        """Claim the right to pass a typing indicator on: at most one per interval.

        One upsert whose WHERE compares the last time: concurrent replicas cannot both win.
        """
        now = self.clock()
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(TypingMark)
            .values(chat_id=chat_id, direction=direction, sent_at=now)
            .on_conflict_do_update(
                index_elements=["chat_id", "direction"],
                set_={"sent_at": now},
                where=TypingMark.sent_at <= now - timedelta(seconds=interval),
            )
        )
        return (await session.execute(statement)).rowcount == 1

    async def _typing(
        self,
        chat_query: Select[Any],
        direction: str,
        interval: float,
        compose: Callable[[Row[Any]], list[Outgoing]],
    ) -> TypingPassed | Throttled:
        """Pass a typing indicator on for the chat ``chat_query`` finds (its row starts
        with the chat's id), unless one was passed on within ``interval`` seconds.

        Typing arrives several times a second while someone writes, so a read turns most
        of them away without taking the writer's turn; the upsert then settles races.
        """
        now = self.clock()
        recent = chat_query.add_columns(TypingMark.sent_at).outerjoin(
            TypingMark,
            (TypingMark.chat_id == Chat.id) & (TypingMark.direction == direction),
        )
        async with self._sessions() as session:
            seen = (await session.execute(recent)).first()
        if seen is None or (
            seen.sent_at is not None and seen.sent_at > now - timedelta(seconds=interval)
        ):
            return Throttled()
        async with self._transaction() as session:
            row = (await session.execute(chat_query)).first()
            if row is None or not await self._pass_typing(session, row[0], direction, interval):
                return Throttled()
            self._enqueue(session, compose(row), now)
            return TypingPassed(row[0])

    async def customer_typing(
        self,
        channel_id: str,
        user_id: str,
        interval: float,
        compose: Callable[[int], list[Outgoing]],
    ) -> TypingPassed | Throttled:
        """Show a customer's typing in their chat's thread, if it has one and it is time."""
        chat = (
            select(Chat.id)
            .join(Customer, Customer.id == Chat.customer_id)
            .where(
                Customer.channel_id == channel_id,
                Customer.user_id == user_id,
                Chat.state != ChatState.CLOSED,
                Chat.department_id.is_not(None),
            )
        )
        return await self._typing(chat, TO_THREAD, interval, lambda row: compose(row.id))

    async def agent_typing(
        self,
        thread_id: str,
        person: Person,
        interval: float,
        compose: Callable[[dict[str, Any]], list[Outgoing]],
    ) -> TypingPassed | Throttled:
        """Show a participant's typing to the customer of an active chat, if it is time."""
        chat = (
            select(Chat.id, Customer.reference)
            .join(Customer, Customer.id == Chat.customer_id)
            .join(Participant, Participant.chat_id == Chat.id)
            .where(
                Chat.thread_id == thread_id,
                Chat.state == ChatState.ACTIVE,
                Participant.left_at.is_(None),
                Participant.agent_id.in_(select(Agent.id).where(Agent.teams_id == person.teams_id)),
            )
        )
        return await self._typing(chat, TO_CUSTOMER, interval, lambda row: compose(row.reference))

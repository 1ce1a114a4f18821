"""Tags: a department's list and its rule (closing needs one), and the tags of a chat.

Supervisors keep the list from their room (after ``access.check_supervisor`` in the same
unit) or the console: one ``do_*`` per change, the role in its WHERE, recorded in the
audit. A typed name finds a tag with or without its marks ("hoa-don" is "hóa-đơn"),
so the list never holds two names that read the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update

from store import access, audit, people
from store.models import Chat, ChatState, ChatTag, Department, Tag, TagRequirement
from store.moves import claim_chat
from store.tagkeys import tag_key
from store.unit import Unit
from store.views import ChatView, Person, chat_view
from store.vocabulary import Refusal, Refused


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


@dataclass(frozen=True)
class RoomTags:
    """A room's department, its tags by name and whether closing a chat needs one."""

    department: str
    names: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class Tagged:
    chat: ChatView


@dataclass(frozen=True)
class UnknownTags:
    unknown: tuple[str, ...]
    known: tuple[str, ...]
    chat: ChatView


def _known(rows: Iterable[Any]) -> dict[str, int]:
    """A department's tags by key: what a typed name finds, with or without its marks."""
    return {tag_key(name): tag_id for name, tag_id in rows}


async def do_add_tags(
    tx: Unit, department_id: int, agent_id: int, names: Sequence[str]
) -> TagsAdded | Refused:
    """A supervisor adds names to the department's list (from the room or the console);
    one that reads like a listed tag is kept out. The actor's role is in each INSERT's
    WHERE, and each tag added is recorded in the audit."""
    added, existing = [], []
    taken = {
        tag_key(name)
        for name in await tx.session.scalars(
            select(Tag.name).where(Tag.department_id == department_id)
        )
    }
    for name in names:
        if tag_key(name) in taken:  # "hoa-don" when "hóa-đơn" exists
            existing.append(name)
            continue
        taken.add(tag_key(name))
        fresh = await tx.insert_ignore(
            Tag,
            {"department_id": department_id, "name": name, "created_at": tx.now},
            where=audit.supervises(department_id, agent_id),
        )
        (added if fresh else existing).append(name)
        if fresh:
            audit.record(tx, department_id, agent_id, "tag_added", {"tag": name})
    if not added and (refused := await audit.unless_supervising(tx, department_id, agent_id)):
        return refused
    return TagsAdded(tuple(added), tuple(existing))


async def do_remove_tag(
    tx: Unit, department_id: int, agent_id: int, name: str
) -> TagRemoved | TagMissing | Refused:
    """A supervisor removes a tag from the list and from the chats that carry it."""
    session = tx.session
    rows = await session.execute(select(Tag.name, Tag.id).where(Tag.department_id == department_id))
    found = [(n, i) for n, i in rows if tag_key(n) == tag_key(name)]
    if not found:
        return TagMissing(name)
    stored, tag_id = found[0]
    allowed = audit.supervises(department_id, agent_id)
    await session.execute(delete(ChatTag).where(ChatTag.tag_id == tag_id, allowed))
    result = await session.execute(delete(Tag).where(Tag.id == tag_id, allowed))
    if result.rowcount != 1:
        return await audit.unless_supervising(tx, department_id, agent_id) or TagMissing(name)
    # The queue's priority named it: it names no tag now (a priority set while this
    # removal waited for the tag's row is cleared here too).
    await session.execute(
        update(Department)
        .where(Department.id == department_id, Department.queue_priority_tag == stored)
        .values(queue_priority_tag=None)
        .execution_options(synchronize_session=False)
    )
    audit.record(tx, department_id, agent_id, "tag_removed", {"tag": stored})
    return TagRemoved(stored)


async def do_require_tag(
    tx: Unit, department_id: int, agent_id: int, required: bool
) -> TagRuleSet | Refused:
    """A supervisor makes closing the department's chats need a tag, or not."""
    allowed = audit.supervises(department_id, agent_id)
    if required:
        values = {"department_id": department_id, "created_at": tx.now}
        await tx.insert_ignore(TagRequirement, values, where=allowed)
    else:
        await tx.session.execute(
            delete(TagRequirement).where(TagRequirement.department_id == department_id, allowed)
        )
    if refused := await audit.unless_supervising(tx, department_id, agent_id):
        return refused
    audit.record(tx, department_id, agent_id, "tag_required", {"on": required})
    return TagRuleSet(required)


async def department_tags(tx: Unit, department_id: int) -> tuple[str, ...]:
    """A department's tags by name (the console's queue priority picks one of them)."""
    names = await tx.session.scalars(
        select(Tag.name).where(Tag.department_id == department_id).order_by(Tag.name)
    )
    return tuple(names)


async def room_tags(tx: Unit, channel_id: str) -> RoomTags | Refused:
    """A room's department name, its tags and whether closing needs one."""
    department = await access.room(tx, channel_id)
    if department is None:
        return Refused(Refusal.NOT_A_ROOM)
    names = await department_tags(tx, department.id)
    required = await tx.session.get(TagRequirement, department.id)
    return RoomTags(department.name, names, required is not None)


async def do_tag_chat(
    tx: Unit,
    chat_id: int,
    person: Person,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    exactly: Sequence[str] | None = None,
) -> Tagged | UnknownTags | Refused:
    """Add or remove tags of a chat, or set them ``exactly`` (the card's Tag action).

    Only the chat's participants and its department's supervisors may, while it is
    open: that is the WHERE of the claim of the chat's row that every change of tags makes.
    """
    session = tx.session
    chat = await session.get(Chat, chat_id)
    if chat is None:
        return Refused(Refusal.UNKNOWN_CHAT)
    rows = (
        await session.execute(
            select(Tag.name, Tag.id).where(Tag.department_id == chat.department_id)
        )
    ).all()
    by_key = _known(rows)
    named = [*add, *remove, *(exactly or ())]
    known = {n: by_key[tag_key(n)] for n in named if tag_key(n) in by_key}
    unknown = tuple(dict.fromkeys(n for n in named if n not in known))
    if unknown:
        names = tuple(sorted(name for name, _ in rows))
        return UnknownTags(unknown, names, await chat_view(session, chat_id))
    agent = await people.agent(tx, person)
    takes_part, supervises = access.in_chat_or_supervising(agent.id)
    if not await claim_chat(
        tx, chat_id, Chat.state != ChatState.CLOSED, or_(takes_part, supervises)
    ):
        view = await chat_view(session, chat_id)
        closed = view.state == ChatState.CLOSED
        return Refused(Refusal.CHAT_CLOSED if closed else Refusal.NOT_PARTICIPANT, view)
    current = set(await session.scalars(select(ChatTag.tag_id).where(ChatTag.chat_id == chat_id)))
    wanted = (
        {known[n] for n in exactly}
        if exactly is not None
        else (current | {known[n] for n in add}) - {known[n] for n in remove}
    )
    if current - wanted:
        await session.execute(
            delete(ChatTag).where(ChatTag.chat_id == chat_id, ChatTag.tag_id.in_(current - wanted))
        )
    for tag_id in sorted(wanted - current):
        session.add(ChatTag(chat_id=chat_id, tag_id=tag_id, agent_id=agent.id, created_at=tx.now))
    await session.flush()
    return Tagged(await chat_view(session, chat_id))

"""Canned answers: a department's own and the company-wide ones, by shortcut.

Supervisors add and remove them from their room (after ``access.check_supervisor`` in
the same unit) or the console, through the same ``do_*``; agents list and send them in a
chat's thread or find them from the compose box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select

from store import access, audit
from store.models import CannedAnswer, Chat, Customer, Department
from store.unit import Unit
from store.vocabulary import Refused


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


async def do_add_canned(
    tx: Unit,
    department_id: int,
    agent_id: int,
    shortcut: str,
    text: str,
    *,
    company_wide: bool = False,
    replace: bool = False,
) -> CannedAdded | CannedExists | Refused:
    """A supervisor adds a canned answer to the department or, ``company_wide``, to the
    company (from the room or the console). An existing shortcut is kept as it is (the
    unique index decides, so two supervisors adding the same one cannot both win) unless
    ``replace`` (the console's edit). The actor's role is in the WHERE; the audit names
    the department it was done from."""
    owner = None if company_wide else department_id
    allowed = audit.supervises(department_id, agent_id)
    if replace:
        await tx.session.execute(delete(CannedAnswer).where(_owned(owner, shortcut), allowed))
    values = {"department_id": owner, "shortcut": shortcut, "text": text}
    values["created_at"] = tx.now
    added = await tx.insert_ignore(CannedAnswer, values, where=allowed)
    if not added:
        refused = await audit.unless_supervising(tx, department_id, agent_id)
        return refused or CannedExists(shortcut)
    detail = {"shortcut": shortcut, "company_wide": company_wide, "text": text}
    audit.record(tx, department_id, agent_id, "canned_added", detail)
    return CannedAdded(shortcut)


async def do_remove_canned(
    tx: Unit, department_id: int, agent_id: int, shortcut: str, *, company_wide: bool = False
) -> CannedRemoved | CannedMissing | Refused:
    """A supervisor removes a canned answer of the department (or of the company)."""
    owner = None if company_wide else department_id
    result = await tx.session.execute(
        delete(CannedAnswer).where(
            _owned(owner, shortcut), audit.supervises(department_id, agent_id)
        )
    )
    if not result.rowcount:
        refused = await audit.unless_supervising(tx, department_id, agent_id)
        return refused or CannedMissing(shortcut)
    detail = {"shortcut": shortcut, "company_wide": company_wide}
    audit.record(tx, department_id, agent_id, "canned_removed", detail)
    return CannedRemoved(shortcut)


def _owned(owner: int | None, shortcut: str) -> Any:
    """For a WHERE: the answer of that owner (None: the company's) with that shortcut."""
    match = (
        CannedAnswer.department_id.is_(None)
        if owner is None
        else CannedAnswer.department_id == owner
    )
    return and_(match, CannedAnswer.shortcut == shortcut)


async def canned_answers(
    tx: Unit, *, channel_id: str | None = None, thread_id: str | None = None
) -> CannedSet:
    """The answers usable in a chat's thread (its department's) or in a room.

    Company-wide answers (no department) are usable everywhere; a department's
    own answer wins over a company-wide one with the same shortcut.
    """
    session = tx.session
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
        department = await access.room(tx, channel_id)
    scope = CannedAnswer.department_id.is_(None)
    if department is not None:
        scope = or_(scope, CannedAnswer.department_id == department.id)
    rows = await session.scalars(
        select(CannedAnswer)
        .where(scope)
        .order_by(CannedAnswer.shortcut, CannedAnswer.department_id.is_(None))
    )
    answers: dict[str, Canned] = {}
    for answer in rows:
        answers.setdefault(
            answer.shortcut, Canned(answer.shortcut, answer.text, answer.department_id is None)
        )
    return CannedSet(
        department=department.name if department else None,
        answers=tuple(answers.values()),
        customer_name=customer_name,
        in_chat=customer_name is not None,
    )

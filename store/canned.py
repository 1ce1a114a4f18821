"""Canned answers: a department's own and the company-wide ones, by shortcut.

Supervisors add and remove them from their room (after ``access.check_supervisor`` in
the same unit); agents list and send them in a chat's thread or find them from the
compose box.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, or_, select

from store import access
from store.models import CannedAnswer, Chat, Customer, Department
from store.unit import Unit


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
    tx: Unit, department: Department, by: int, shortcut: str, text: str
) -> CannedAdded | CannedExists:
    """Add a canned answer to the department; an existing shortcut is kept as it is (the
    unique index decides, so two supervisors adding the same one cannot both win)."""
    added = await tx.insert_ignore(
        CannedAnswer,
        {
            "department_id": department.id,
            "shortcut": shortcut,
            "text": text,
            "created_by_id": by,
            "created_at": tx.now,
        },
    )
    return CannedAdded(shortcut) if added else CannedExists(shortcut)


async def do_remove_canned(
    tx: Unit, department: Department, shortcut: str
) -> CannedRemoved | CannedMissing:
    result = await tx.session.execute(
        delete(CannedAnswer).where(
            CannedAnswer.department_id == department.id, CannedAnswer.shortcut == shortcut
        )
    )
    return CannedRemoved(shortcut) if result.rowcount else CannedMissing(shortcut)


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

"""AI help's side of the store: what a chat gives the provider, and the calls' budgets.

A call to the AI provider costs money and sends a customer's words to a third party, so
each one is first claimed against two budgets kept in the database (per chat, and per
department per day): one conditional UPDATE each, ``calls < limit`` in the WHERE, so that
replicas sharing the database never overspend. The lines are read only after the claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from store.models import AiBudget, Chat, Customer, Department, Message
from store.unit import Unit, insert_ignoring
from store.vocabulary import MessageKind

# At most this many of a chat's latest lines are sent (a long chat stays one short prompt).
MAX_LINES = 40


@dataclass(frozen=True)
class ChatMaterial:
    """What a call about one chat needs: where it belongs and what was said in it
    (oldest first; ``customer`` True for the customer's lines, False for agents')."""

    chat_id: int
    ref: str
    department_id: int
    department_key: str
    customer_locale: str
    lines: tuple[tuple[bool, str], ...]


async def chat_department(tx: Unit, chat_id: int) -> tuple[int, str, str] | None:
    """The chat's department (id, key) and public reference; None for a chat of none."""
    row = (
        await tx.session.execute(
            select(Department.id, Department.key, Chat.public_id)
            .join(Chat, Chat.department_id == Department.id)
            .where(Chat.id == chat_id)
        )
    ).one_or_none()
    return (row[0], row[1], row[2]) if row is not None else None


async def chat_material(
    tx: Unit, chat_id: int, *, only: tuple[bool, str] | None = None
) -> ChatMaterial | None:
    """The chat's latest customer and agent lines (never notes), for a prompt; ``only``:
    just that line (customer's or not, its text: a translation needs nothing else)."""
    found = (
        await tx.session.execute(
            select(Department.id, Department.key, Chat.public_id, Customer.locale)
            .join(Chat, Chat.department_id == Department.id)
            .join(Customer, Customer.id == Chat.customer_id)
            .where(Chat.id == chat_id)
        )
    ).one_or_none()
    if found is None:
        return None
    if only is not None:
        return ChatMaterial(chat_id, found[2], found[0], found[1], found[3], (only,))
    rows = (
        await tx.session.execute(
            select(Message.kind, Message.text)
            .where(
                Message.chat_id == chat_id,
                Message.kind.in_([MessageKind.INCOMING, MessageKind.OUTGOING]),
            )
            .order_by(Message.id.desc())
            .limit(MAX_LINES)
        )
    ).all()
    lines = tuple((kind == MessageKind.INCOMING, text) for kind, text in reversed(rows) if text)
    return ChatMaterial(chat_id, found[2], found[0], found[1], found[3], lines)


async def _claim(tx: Unit, scope: str, limit: int) -> bool:
    """One more call on ``scope`` if it has fewer than ``limit``: the row made if new,
    then one conditional UPDATE whose row count decides."""
    await tx.session.execute(
        insert_ignoring(tx.dialect)(AiBudget)
        .values(scope=scope, calls=0, updated_at=tx.now)
        .on_conflict_do_nothing()
    )
    claimed = await tx.session.execute(
        update(AiBudget)
        .where(AiBudget.scope == scope, AiBudget.calls < limit)
        .values(calls=AiBudget.calls + 1, updated_at=tx.now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


async def do_claim_call(
    tx: Unit, chat_id: int, department_id: int, *, per_chat: int, per_day: int
) -> bool:
    """Claim one AI call for the chat: True when both its chat's and its department's
    day's budgets had room (both counted), False when either is spent (neither counted:
    the chat's count is given back in the same transaction)."""
    chat_scope = f"chat:{chat_id}"
    if not await _claim(tx, chat_scope, per_chat):
        return False
    if await _claim(tx, day_scope(department_id, tx.now), per_day):
        return True
    await tx.session.execute(
        update(AiBudget)
        .where(AiBudget.scope == chat_scope)
        .values(calls=AiBudget.calls - 1)
        .execution_options(synchronize_session=False)
    )
    return False


def day_scope(department_id: int, now: datetime) -> str:
    """The budget of a department's calls on ``now``'s day (UTC)."""
    return f"day:{department_id}:{now.date().isoformat()}"


async def calls_counted(tx: Unit, scope: str) -> int:
    """The calls counted on one budget (the console and tests read it)."""
    found = await tx.session.scalar(select(AiBudget.calls).where(AiBudget.scope == scope))
    return found or 0

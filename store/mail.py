"""Mail to a customer who left: whether an agent's reply also goes by mail, what a mail
carries, and which lines were mailed.

A mail row names only its chat; its lines are read from the transcript when it is sent
(the agents' lines after the last one mailed, and after the customer last wrote: those
they have seen), and the last one is then kept in ``chats.mailed_through``. So replies
written while a mail waits go in the same mail, a mail with nothing new is not sent, and
a retried mail carries the same lines again, never a second mail of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update

from store.models import Chat, ChatState, Customer, Department, Message, MessageKind
from store.unit import Unit
from store.vocabulary import MailPurpose

# A mail of the whole chat stops at this many lines (the transcript link has the rest).
TRANSCRIPT_LINES = 500

_LAST_SEEN = (
    select(func.max(Message.created_at))
    .where(Message.chat_id == Chat.id, Message.kind == MessageKind.INCOMING)
    .correlate(Chat)
    .scalar_subquery()
)
_CHAT = (
    select(
        Chat.public_id,
        Chat.mailed_through,
        Customer.contact,
        Customer.channel_id,
        Customer.locale,
        Department.name.label("department"),
        Department.names.label("department_names"),
        _LAST_SEEN.label("last_seen"),
    )
    .join(Customer, Customer.id == Chat.customer_id)
    .outerjoin(Department, Department.id == Chat.department_id)
    .where(Chat.id == bindparam("p_chat"))
)


def email_address(contact: str | None) -> str | None:
    """The contact if it is an e-mail address (a phone number cannot be mailed)."""
    return contact if contact and "@" in contact else None


@dataclass(frozen=True)
class MailLine:
    id: int
    kind: MessageKind
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class MailContent:
    """What one mail to a chat's customer carries, read when it is sent."""

    address: str
    locale: str
    chat_ref: str
    department: str
    department_names: dict[str, str] | None
    lines: tuple[MailLine, ...]

    @property
    def through(self) -> int:
        return max(line.id for line in self.lines)


async def mail_after_reply(tx: Unit, chat_id: int) -> bool:
    """Whether an agent's reply written now in chat ``chat_id`` also goes by mail: mail
    is configured, the customer writes from the website, gave an e-mail address and has
    written nothing for a while (``MailPolicy``). Nothing tells the bridge that a web page
    is still open; silence is the honest sign it has, so a customer still reading may get
    the mail too (it says the reply is also in the chat)."""
    mail = tx.policy.mail
    if mail is None:
        return False
    row = (await tx.execute(_CHAT, {"p_chat": chat_id})).one_or_none()
    if row is None or row.channel_id not in mail.channels or not email_address(row.contact):
        return False
    return row.last_seen is None or row.last_seen <= tx.now - mail.after


async def mail_content(tx: Unit, chat_id: int, purpose: str) -> MailContent | None:
    """What a mail to chat ``chat_id``'s customer carries now; None: nothing to send (no
    address any more, or no reply they have not seen or been mailed)."""
    row = (await tx.execute(_CHAT, {"p_chat": chat_id})).one_or_none()
    address = email_address(row.contact) if row is not None else None
    if row is None or address is None:
        return None
    query = select(Message.id, Message.kind, Message.author, Message.text, Message.created_at)
    if purpose == MailPurpose.TRANSCRIPT:
        shown = (MessageKind.INCOMING, MessageKind.OUTGOING, MessageKind.BOT)
        query = query.where(Message.chat_id == chat_id, Message.kind.in_(shown))
    else:
        query = query.where(
            Message.chat_id == chat_id,
            Message.kind == MessageKind.OUTGOING,
            Message.id > (row.mailed_through or 0),
        )
        if row.last_seen is not None:
            query = query.where(Message.created_at > row.last_seen)
    found = await tx.execute(query.order_by(Message.id).limit(TRANSCRIPT_LINES))
    lines = tuple(MailLine(*line) for line in found)
    if not lines:
        return None
    names: Any = row.department_names
    return MailContent(
        address=address,
        locale=row.locale,
        chat_ref=row.public_id,
        department=row.department or "",
        department_names=names if isinstance(names, dict) else None,
        lines=lines,
    )


async def do_mark_mailed(tx: Unit, chat_id: int, through: int) -> bool:
    """Keep that the agents' lines up to ``through`` were mailed (never moving back)."""
    result = await tx.execute(
        update(Chat.__table__)
        .where(
            Chat.id == chat_id,
            or_(Chat.mailed_through.is_(None), Chat.mailed_through < through),
        )
        .values(mailed_through=through)
    )
    return result.rowcount == 1


async def check_transcript(
    tx: Unit, channel_id: str, user_id: str, ref: str
) -> tuple[int, str] | None:
    """(chat id, address) when the customer who pressed "send the transcript" owns that
    closed chat and gave an e-mail address; None otherwise (a foreign or open chat)."""
    found = (
        await tx.execute(
            select(Chat.id, Customer.contact)
            .join(Customer, Customer.id == Chat.customer_id)
            .where(
                Chat.public_id == ref,
                Chat.state == ChatState.CLOSED,
                Customer.channel_id == channel_id,
                Customer.user_id == user_id,
            )
        )
    ).one_or_none()
    address = email_address(found.contact) if found is not None else None
    return (found.id, address) if found is not None and address is not None else None

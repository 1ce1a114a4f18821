"""Whether a customer can still be reached on their channel, as delivery asks it.

A channel with a reply window (Messenger, Zalo) decides a send by when the customer
last wrote; when it refuses, the agents are told in the customer's newest chat, with
the customer's contact so that they can answer another way. One indexed read, only
for sends to such channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from store.models import Chat, Customer, Message
from store.unit import Unit
from store.vocabulary import ChatState, MessageKind


@dataclass(frozen=True)
class Reach:
    """The customer's newest chat, whether it is open, when they last wrote in it, and
    the contact they gave (if any)."""

    chat_id: int
    open: bool
    last_inbound: datetime | None
    contact: str | None
    name: str


async def customer_reach(tx: Unit, channel: str, user_id: str) -> Reach | None:
    last = (
        select(func.max(Message.created_at))
        .where(Message.chat_id == Chat.id, Message.kind == MessageKind.INCOMING)
        .correlate(Chat)
        .scalar_subquery()
    )
    row = (
        await tx.execute(
            select(Chat.id, Chat.state, last, Customer.contact, Customer.name)
            .join(Customer, Customer.id == Chat.customer_id)
            .where(Customer.channel_id == channel, Customer.user_id == user_id[:256])
            .order_by(Chat.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    chat_id, state, last_inbound, contact, name = row
    return Reach(chat_id, state != ChatState.CLOSED, last_inbound, contact, name)

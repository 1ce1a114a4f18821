"""Holding back new chats beyond the intake limits: their cards reach the room later."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from store.models import Chat, Customer
from store.unit import Unit


async def hold(tx: Unit, chat: Chat, customer: Customer) -> bool:
    """Hold a chat opened beyond the intake limits: its card is posted by the timer,
    the n-th chat over a limit one window later for every ``limit`` before it, so a
    flood reaches the room at the limit's pace and nothing is dropped.

    The limits count the chats opened within the window from the customer's
    conversation (whoever claims to write in it) and from their channel.
    """
    limits = tx.policy.intake_limits
    recent = (
        select(func.count(Chat.id))
        .join(Customer, Customer.id == Chat.customer_id)
        .where(Chat.created_at > tx.now - limits.window, Chat.id != chat.id)
    )
    same_conversation = or_(
        Customer.id == customer.id,
        and_(
            Customer.conversation_key.is_not(None),
            Customer.conversation_key == customer.conversation_key,
        ),
    )
    own = await tx.session.scalar(recent.where(same_conversation)) or 0
    channel = await tx.session.scalar(recent.where(Customer.channel_id == customer.channel_id))
    waits = max(
        own // limits.per_conversation if limits.per_conversation > 0 else 0,
        (channel or 0) // limits.per_channel if limits.per_channel > 0 else 0,
    )
    if waits == 0:
        return False
    chat.held = True
    chat.announce_at = tx.now + limits.window * waits
    return True

"""Invitations and transfers: offering a chat to a colleague, their answer, the expiry.

An offer is one row; ``uq_offers_pending_transfer`` and ``uq_offers_pending_invite``
let a chat have one pending transfer, and one pending invitation per colleague, so
two replicas offering at once cannot both succeed: the insert that loses the race
does nothing, and its row count says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, literal, select, true, update

from store import people
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Offer,
    OfferKind,
    OfferState,
    Participant,
    ParticipantRole,
)
from store.moves import chat_exists, claim_chat, current_seat, person_of, seated
from store.unit import Unit, insert_ignoring
from store.views import ChatView, Person, chat_view
from store.vocabulary import ChatEvent, Refusal, Refused


@dataclass(frozen=True)
class OfferView:
    id: int
    kind: OfferKind
    state: OfferState
    sender: Person
    recipient: Person


@dataclass(frozen=True)
class Offered:
    """The offer was made; its recipient is to be asked."""

    chat: ChatView
    offer: OfferView


@dataclass(frozen=True)
class Answered:
    """The recipient accepted or declined (``offer.state`` says which)."""

    chat: ChatView
    offer: OfferView


@dataclass(frozen=True)
class Expired:
    """Nobody answered the offer in time; it is withdrawn."""

    chat: ChatView
    offer: OfferView


class _Gone(Exception):
    """The offer was answered, withdrawn or expired while it was being accepted."""


async def offer_view(tx: Unit, offer: Offer) -> OfferView:
    sender = await tx.session.get(Agent, offer.from_agent_id)
    recipient = await tx.session.get(Agent, offer.to_agent_id)
    assert sender is not None and recipient is not None
    return OfferView(offer.id, offer.kind, offer.state, person_of(sender), person_of(recipient))


# -- reads for the dialogs' checks ------------------------------------------------------------


async def offer_of(tx: Unit, chat_id: int, offer_id: int) -> tuple[ChatView, OfferView] | None:
    """An invitation or transfer of a chat, with the chat (None: not one of its offers)."""
    offer = await tx.session.get(Offer, offer_id)
    if offer is None or offer.chat_id != chat_id:
        return None
    return await chat_view(tx.session, chat_id), await offer_view(tx, offer)


async def pending_invite(tx: Unit, chat_id: int, person: Person) -> bool:
    """Whether ``person`` has an invitation to the chat waiting for their answer."""
    found = await tx.session.scalar(
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


# -- offering ---------------------------------------------------------------------------------


async def do_offer(
    tx: Unit,
    chat_id: int,
    kind: OfferKind,
    sender: Person,
    recipient: Person,
    expires_in: timedelta,
) -> Offered | Refused:
    """Invite a colleague into an active chat, or offer them its ownership.

    Any participant may invite; only the owner may transfer. The recipient must be
    online and not in the chat already (a transfer may go to a colleague helping in
    it). One INSERT ... SELECT carries all of it in its WHERE, and the partial unique
    indexes turn a second pending offer into a row that is not inserted.
    """
    if not await chat_exists(tx, chat_id):
        return Refused(Refusal.UNKNOWN_CHAT)
    actor = await people.agent(tx, sender)
    target = await tx.session.scalar(select(Agent).where(Agent.teams_id == recipient.teams_id))
    offer_id = None
    if target is not None and target.id != actor.id:
        offer_id = await _insert_offer(tx, chat_id, kind, actor.id, target.id, expires_in)
    if offer_id is None:
        return Refused(await _offer_refusal(tx, chat_id, kind, actor.id, recipient))
    offer = await tx.session.get(Offer, offer_id)
    assert offer is not None
    return Offered(await chat_view(tx.session, chat_id), await offer_view(tx, offer))


async def _insert_offer(
    tx: Unit, chat_id: int, kind: OfferKind, actor_id: int, target_id: int, expires_in: timedelta
) -> int | None:
    """The new offer's id; None when a condition failed or one is pending already."""
    columns = Offer.__table__.c
    online = exists().where(Agent.id == target_id, Agent.availability == Availability.ONLINE)
    source = select(
        Chat.id,
        literal(kind, columns.kind.type),
        literal(actor_id),
        literal(target_id),
        literal(OfferState.PENDING, columns.state.type),
        literal(tx.now, columns.created_at.type),
        literal(tx.now + expires_in, columns.expires_at.type),
    ).where(
        Chat.id == chat_id,
        Chat.state == ChatState.ACTIVE,
        seated(actor_id),
        (Chat.owner_id == actor_id) if kind == OfferKind.TRANSFER else ~seated(target_id),
        online,
    )
    tx.timer(tx.now + expires_in)
    insert = insert_ignoring(tx.dialect)
    statement = (
        insert(Offer)
        .from_select(
            [
                "chat_id",
                "kind",
                "from_agent_id",
                "to_agent_id",
                "state",
                "created_at",
                "expires_at",
            ],
            source,
        )
        .on_conflict_do_nothing()
        .returning(Offer.id)
    )
    return (await tx.session.execute(statement)).scalar_one_or_none()


async def _offer_refusal(
    tx: Unit, chat_id: int, kind: OfferKind, actor_id: int, recipient: Person
) -> Refusal:
    """Why the offer was not made, read after the INSERT found a condition false."""
    chat = (
        await tx.session.execute(select(Chat.state, Chat.owner_id).where(Chat.id == chat_id))
    ).one()
    if chat.state != ChatState.ACTIVE:
        return Refusal.OFFER_NOT_ACTIVE
    if kind == OfferKind.TRANSFER and chat.owner_id != actor_id:
        return Refusal.TRANSFER_NOT_OWNER
    if await current_seat(tx, chat_id, actor_id) is None:
        return Refusal.INVITE_NOT_PARTICIPANT
    target = (
        await tx.session.execute(
            select(Agent.id, Agent.availability).where(Agent.teams_id == recipient.teams_id)
        )
    ).one_or_none()
    if target is None or target.availability != Availability.ONLINE:
        return Refusal.RECIPIENT_OFFLINE
    inside = kind == OfferKind.INVITE and await current_seat(tx, chat_id, target.id)
    if target.id == actor_id or inside:
        return Refusal.RECIPIENT_IN_CHAT
    return Refusal.INVITE_PENDING if kind == OfferKind.INVITE else Refusal.TRANSFER_PENDING


# -- answering --------------------------------------------------------------------------------


async def do_answer_offer(
    tx: Unit,
    chat_id: int,
    offer_id: int | None,
    person: Person,
    kind: OfferKind | None,
    *,
    accept: bool,
) -> Answered | Refused:
    """The recipient accepts or declines an invitation or a transfer.

    Only the recipient's own pending offer changes; a replay after a decline or an
    expiry finds nothing pending and is refused. ``offer_id`` None means the
    recipient's pending offer of that kind in this chat (the ``/join`` command);
    ``kind`` None means any kind (Decline names the offer by its id).
    """
    if not await chat_exists(tx, chat_id):
        return Refused(Refusal.UNKNOWN_CHAT)
    agent = await people.agent(tx, person)
    mine = and_(
        Offer.chat_id == chat_id,
        (Offer.kind == kind) if kind is not None else true(),
        Offer.to_agent_id == agent.id,
        Offer.state == OfferState.PENDING,
        (Offer.id == offer_id) if offer_id is not None else true(),
    )
    offer = await tx.session.scalar(select(Offer).where(mine).order_by(Offer.id.desc()))
    if offer is None:
        addressed = offer_id is None or await tx.session.scalar(
            select(Offer.id).where(Offer.id == offer_id, Offer.to_agent_id == agent.id)
        )
        return Refused(Refusal.OFFER_CLOSED if addressed else Refusal.OFFER_NOT_YOURS)
    try:
        if accept:
            # A savepoint: the chat changes only if the offer is still pending after it.
            async with tx.savepoint():
                await _take(tx, offer, agent)
                await _decide(tx, offer.id, OfferState.ACCEPTED)
        else:
            await _decide(tx, offer.id, OfferState.DECLINED)
    except _Gone:
        return Refused(Refusal.OFFER_CLOSED)
    await tx.session.refresh(offer)
    return Answered(await chat_view(tx.session, chat_id), await offer_view(tx, offer))


async def _take(tx: Unit, offer: Offer, agent: Agent) -> None:
    """Seat the recipient. The chat's row is changed first, as a Close does, so that the
    two take turns on it on PostgreSQL; its WHERE says the offer is still pending."""
    transfer = offer.kind == OfferKind.TRANSFER
    still_pending = (
        select(Offer.id).where(Offer.id == offer.id, Offer.state == OfferState.PENDING).exists()
    )
    if transfer:
        taken = await claim_chat(
            tx,
            offer.chat_id,
            still_pending,
            Chat.state == ChatState.ACTIVE,
            Chat.owner_id == offer.from_agent_id,
            owner_id=agent.id,
        )
    else:
        taken = await claim_chat(tx, offer.chat_id, still_pending, Chat.state != ChatState.CLOSED)
    if not taken:
        raise _Gone
    if transfer:
        await tx.session.execute(
            update(Participant)
            .where(
                Participant.chat_id == offer.chat_id,
                Participant.agent_id == offer.from_agent_id,
                Participant.left_at.is_(None),
            )
            .values(left_at=tx.now)
            .execution_options(synchronize_session=False)
        )
    role = ParticipantRole.OWNER if transfer else ParticipantRole.INVITED
    await people.seat(tx, offer.chat_id, agent.id, role)
    event = ChatEvent.TRANSFERRED if transfer else ChatEvent.INVITE_ACCEPTED
    tx.event(offer.chat_id, event, agent)


async def _decide(tx: Unit, offer_id: int, state: OfferState) -> None:
    decided = await tx.session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.state == OfferState.PENDING)
        .values(state=state)
        .execution_options(synchronize_session=False)
    )
    if decided.rowcount != 1:
        raise _Gone


# -- expiry -----------------------------------------------------------------------------------


async def next_offer_expiry(tx: Unit) -> datetime | None:
    """When the next pending offer runs out (None: none is pending)."""
    return await tx.scalar(
        select(func.min(Offer.expires_at)).where(Offer.state == OfferState.PENDING)
    )


async def due_offers(tx: Unit, limit: int = 100) -> list[int]:
    """Pending offers whose time is up, oldest first."""
    return list(
        await tx.session.scalars(
            select(Offer.id)
            .where(Offer.state == OfferState.PENDING, Offer.expires_at <= tx.now)
            .order_by(Offer.expires_at)
            .limit(limit)
        )
    )


async def do_expire_offer(tx: Unit, offer_id: int) -> Expired | None:
    """Withdraw a due offer; None when another replica (or its answer) came first."""
    claimed = await tx.session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.state == OfferState.PENDING)
        .values(state=OfferState.EXPIRED)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    offer = await tx.session.get(Offer, offer_id, populate_existing=True)
    assert offer is not None
    return Expired(await chat_view(tx.session, offer.chat_id), await offer_view(tx, offer))

"""A customer's e-mail addresses and phone numbers: kept normalised, with how each is known.

Where a contact comes from decides how far agents may trust a match on it
(``store/matches.py``): the website's pre-chat form or a line the customer wrote is
only *given* (anybody can type anybody's number); an agent's ``/contact`` is
*recorded*; the phone a Zalo user shares with the OA (Zalo's ``user_submit_info``
event, signed by Zalo) is *verified*. A contact kept again with more trust is raised,
never lowered. Values are normalised so that the same person matches however they wrote
it: an e-mail address in lower case, a phone number in one international form
(``0912 345 678``, ``+84 912-345-678`` and Zalo's ``84912345678`` are ``+84912345678``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, literal, or_, select, true, update

from store import access, audit, people
from store.matches import Contact, contact_of, matched_pairs
from store.models import (
    Agent,
    Chat,
    ChatState,
    Customer,
    CustomerContact,
    CustomerUnlink,
    UTCDateTime,
)
from store.unit import Unit, insert_ignoring
from store.views import ChatView, Person, chat_view
from store.vocabulary import ContactTrust, Refusal, Refused


def _upsert(tx: Unit, values: Select[Any]) -> Any:
    """INSERT … SELECT of contact rows: a contact a customer has already is raised to the
    new trust when that is higher, and otherwise left as it is (two deliveries at once
    meet the unique key, not each other). The SELECT always has a WHERE: SQLite would
    read ``ON CONFLICT`` after a bare FROM as a join's ``ON``."""
    statement = insert_ignoring(tx.dialect)(CustomerContact).from_select(
        ["customer_id", "kind", "value", "trust", "created_at"], values.where(true())
    )
    return statement.on_conflict_do_update(
        index_elements=["customer_id", "kind", "value"],
        set_={"trust": statement.excluded.trust},
        where=CustomerContact.trust < statement.excluded.trust,
    )


def _row(customer: Any, contact: Contact, trust: ContactTrust, tx: Unit) -> Select[Any]:
    columns = CustomerContact.__table__.c
    return select(
        customer,
        literal(contact.kind, columns.kind.type),
        literal(contact.value, columns.value.type),
        literal(int(trust), columns.trust.type),
        literal(tx.now, UTCDateTime()),
    )


async def keep_given(tx: Unit, customer_id: int, text: str | None) -> None:
    """The contact a customer gave (the website's form, a line they wrote), kept in the
    unit of their message; not a contact: nothing is written."""
    contact = contact_of(text)
    if contact is not None:
        await tx.execute(_upsert(tx, _row(literal(customer_id), contact, ContactTrust.GIVEN, tx)))


def _shown_contact(customer_id: int, contact: Contact) -> Any:
    """The contact the card shows and a refusal names, for a customer who had none."""
    return (
        update(Customer)
        .where(Customer.id == customer_id, Customer.contact.is_(None))
        .values(contact=contact.value)
    )


@dataclass(frozen=True)
class ContactShared:
    """A channel vouched for a customer's contact; ``chat`` is their open chat's view (its
    thread is told), None when they have none open."""

    contact: Contact
    chat: ChatView | None


async def do_share_contact(
    tx: Unit, channel_id: str, user_id: str, contact: Contact
) -> ContactShared | None:
    """Keep a contact the channel verified (a Zalo user shared their phone with the OA)
    for the customer with that id on that channel; None when there is no such customer
    yet (nobody to show it to). The customer is found in the INSERT's own SELECT."""
    customer = (
        select(Customer.id)
        .where(Customer.channel_id == channel_id, Customer.user_id == user_id)
        .scalar_subquery()
    )
    await tx.execute(
        _upsert(
            tx, _row(Customer.id, contact, ContactTrust.VERIFIED, tx).where(Customer.id == customer)
        )
    )
    customer_id = await tx.session.scalar(select(customer))
    if customer_id is None:
        return None
    await tx.execute(_shown_contact(customer_id, contact))
    chat_id = await tx.session.scalar(
        select(Chat.id).where(Chat.customer_id == customer_id, Chat.state != ChatState.CLOSED)
    )
    return ContactShared(contact, await chat_view(tx.session, chat_id) if chat_id else None)


@dataclass(frozen=True)
class ContactRecorded:
    """An agent recorded the customer's contact; ``chat`` is the view after it."""

    contact: Contact
    chat: ChatView


async def do_record_contact(
    tx: Unit, chat_id: int, person: Person, contact: Contact
) -> ContactRecorded | Refused:
    """An agent records the contact of a chat's customer (``/contact x@y``): the chat's
    participants and its department's supervisors may, open or closed; that is the
    WHERE of the INSERT's SELECT."""
    agent = await people.agent(tx, person)
    participates, supervises = access.in_chat_or_supervising(agent.id)
    values = _row(Chat.customer_id, contact, ContactTrust.RECORDED, tx).where(
        Chat.id == chat_id, or_(participates, supervises)
    )
    await tx.execute(_upsert(tx, values))
    allowed = await tx.session.scalar(
        select(Chat.customer_id).where(Chat.id == chat_id, or_(participates, supervises))
    )
    if allowed is None:
        return await _why_not(tx, chat_id)
    await tx.execute(_shown_contact(allowed, contact))
    return ContactRecorded(contact, await chat_view(tx.session, chat_id))


@dataclass(frozen=True)
class Unlinked:
    """The customers an agent said are not this chat's customer (``others``: how many);
    ``chat`` is the view after it (its card no longer names them)."""

    others: int
    chat: ChatView


async def do_unlink(tx: Unit, chat_id: int, person: Person) -> Unlinked | Refused:
    """An agent says the customers matched to this chat's customer are someone else: each
    pair is kept both ways round (the unique key makes a repeat do nothing), recorded in
    the audit. Its participants and its department's supervisors may; that is the WHERE
    of the INSERT's SELECT, which also finds the matches."""
    agent = await people.agent(tx, person)
    participates, supervises = access.in_chat_or_supervising(agent.id)
    mine, theirs, condition = matched_pairs(Chat.customer_id)
    pairs = (
        select(mine.customer_id.label("a"), theirs.customer_id.label("b"))
        .select_from(Chat)
        .join(mine, mine.customer_id == Chat.customer_id)
        .join(theirs, condition)
        .where(Chat.id == chat_id, or_(participates, supervises))
        .distinct()
        .subquery()
    )
    department = await tx.session.scalar(
        select(Chat.department_id).where(Chat.id == chat_id, or_(participates, supervises))
    )
    if department is None:
        return await _why_not(tx, chat_id)
    # The matches found now, each kept both ways round in one INSERT.
    found = (await tx.session.execute(select(pairs.c.a, pairs.c.b))).all()
    others = len(found)
    if found:
        stamp = {"agent_id": agent.id, "created_at": tx.now}
        rows = [
            {"customer_id": one, "other_id": other, **stamp}
            for a, b in found
            for one, other in ((a, b), (b, a))
        ]
        statement = insert_ignoring(tx.dialect)(CustomerUnlink).values(rows)
        await tx.execute(statement.on_conflict_do_nothing())
    view = await chat_view(tx.session, chat_id)
    if others:
        detail = {"chat": view.ref, "others": others}
        audit.record(tx, department, agent.id, "unlink customers", detail)
    return Unlinked(others, view)


async def check_in_chat(tx: Unit, chat_id: int, person: Person) -> ChatView | Refused:
    """The open chat, if ``person`` takes part in it or supervises its department (a read:
    asking the customer for their phone changes nothing here)."""
    agent: Any = select(Agent.id).where(Agent.teams_id == person.teams_id).scalar_subquery()
    takes_part, supervises = access.in_chat_or_supervising(agent)
    state = await tx.session.scalar(
        select(Chat.state).where(Chat.id == chat_id, or_(takes_part, supervises))
    )
    if state is None:
        return await _why_not(tx, chat_id)
    if state == ChatState.CLOSED:
        return Refused(Refusal.CHAT_CLOSED)
    return await chat_view(tx.session, chat_id)


async def _why_not(tx: Unit, chat_id: int) -> Refused:
    exists_ = await tx.session.scalar(select(Chat.id).where(Chat.id == chat_id))
    return Refused(Refusal.UNKNOWN_CHAT if exists_ is None else Refusal.NOT_PARTICIPANT)

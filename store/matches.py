"""One person on several channels: customers whose normalised contacts match.

A customer who moves from the website to Zalo (or back) gives the same e-mail address or
phone number; agents then see one person: the new chat's card names the other channels'
earlier chats, and the history by customer lists them all. A match is read, never
stored: two chats arriving at once each keep their own contact rows (the unique key
holds per customer) and every later read sees both, so there is nothing to race on.
Only an agent's "not the same person" is stored (``customer_unlinks``), both ways round.

The customer's side is untouched: nothing here is ever shown to a customer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_, select, union
from sqlalchemy.orm import aliased

from store.models import Customer, CustomerContact, CustomerUnlink
from store.search import name_matches
from store.vocabulary import ContactTrust

EMAIL = "email"
PHONE = "phone"
# Vietnam's country code: a number written from 0 is a Vietnamese one.
HOME_COUNTRY = "84"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_MARKS = re.compile(r"[\s.()\-]")
_VALUE_LIMIT = 256


@dataclass(frozen=True)
class Contact:
    kind: str  # EMAIL | PHONE
    value: str  # normalised


def phone_number(text: str) -> str | None:
    """A phone number in its one international form (``+`` and 8 to 15 digits), or None.

    Written from ``0`` it is a Vietnamese number (``0912…`` -> ``+84912…``); written
    from ``84`` with eleven digits, Vietnamese in Zalo's form; from ``00`` or ``+``,
    international (``+84 0912…``, the trunk 0 kept by mistake, drops it)."""
    digits = _PHONE_MARKS.sub("", text.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = HOME_COUNTRY + digits[1:]
    elif not (digits.startswith(HOME_COUNTRY) and len(digits) == 11):
        return None
    if digits.startswith(HOME_COUNTRY + "0"):
        digits = HOME_COUNTRY + digits[len(HOME_COUNTRY) + 1 :]
    if not digits.isascii() or not digits.isdigit() or not 8 <= len(digits) <= 15:
        return None
    return "+" + digits


def contact_of(text: str | None) -> Contact | None:
    """What an e-mail-or-phone field says, normalised; None when it is neither."""
    said = (text or "").strip()
    if _EMAIL.fullmatch(said) and len(said) <= _VALUE_LIMIT:
        return Contact(EMAIL, said.lower())
    phone = phone_number(said)
    return Contact(PHONE, phone) if phone else None


@dataclass(frozen=True)
class Linked:
    """Another channel the same person wrote from: its chats (id, public reference, newest
    first), the kinds of contact that match (``email``, ``phone``), and how well each side
    knows them (the best trust of the matching contacts, here and there)."""

    channel: str
    chats: tuple[tuple[int, str], ...]
    kinds: tuple[str, ...]
    ours: ContactTrust
    theirs: ContactTrust


def matched_pairs(customer: Any) -> Any:
    """(this contact, the other customer's contact) aliases and the join condition of a
    match of ``customer`` (a column or parameter) that no agent unlinked."""
    mine = aliased(CustomerContact)
    theirs = aliased(CustomerContact)
    condition = and_(
        mine.customer_id == customer,
        theirs.kind == mine.kind,
        theirs.value == mine.value,
        theirs.customer_id != mine.customer_id,
        ~exists().where(
            CustomerUnlink.customer_id == mine.customer_id,
            CustomerUnlink.other_id == theirs.customer_id,
        ),
    )
    return mine, theirs, condition


def same_person(customers: Any) -> Any:
    """The ids of ``customers`` (a SELECT of customer ids) and of every customer matched to
    one of them: the history by customer lists all their chats."""
    mine = aliased(CustomerContact)
    theirs = aliased(CustomerContact)
    matched = (
        select(theirs.customer_id)
        .join(mine, and_(theirs.kind == mine.kind, theirs.value == mine.value))
        .where(
            mine.customer_id.in_(customers),
            theirs.customer_id != mine.customer_id,
            ~exists().where(
                CustomerUnlink.customer_id == mine.customer_id,
                CustomerUnlink.other_id == theirs.customer_id,
            ),
        )
    )
    return union(customers, matched)


def customers_named(dialect: str, said: str) -> Any:
    """The ids of the customers a search names, as an agent writes it: by name, or by an
    e-mail address or phone number they are known by (normalised, however it is written);
    with the customers matched to them (``same_person``)."""
    named = name_matches(dialect, Customer.name, said)
    contact = contact_of(said)
    if contact is not None:
        named = or_(
            named,
            Customer.id.in_(
                select(CustomerContact.customer_id).where(
                    CustomerContact.kind == contact.kind, CustomerContact.value == contact.value
                )
            ),
        )
    return same_person(select(Customer.id).where(named))


def grouped(rows: list[Any]) -> tuple[Linked, ...]:
    """The rows of a view's ``linked`` list, (kind, chat id, public reference, channel,
    contact kind, "ours:theirs" trust), one per matching contact of each chat, as one
    :class:`Linked` per channel, the channel written from most recently first."""
    by_channel: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: -int(r[1])):
        chat_id, ref, channel, kind, trust = int(row[1]), row[2], row[3], row[4], row[5]
        ours, theirs = (int(part) for part in str(trust).split(":"))
        found = by_channel.setdefault(
            channel, {"chats": {}, "kinds": set(), "ours": 0, "theirs": 0}
        )
        found["chats"].setdefault(chat_id, ref)
        found["kinds"].add(kind)
        found["ours"] = max(found["ours"], ours)
        found["theirs"] = max(found["theirs"], theirs)
    return tuple(
        Linked(
            channel,
            tuple(found["chats"].items()),
            tuple(sorted(found["kinds"])),
            ContactTrust(found["ours"]),
            ContactTrust(found["theirs"]),
        )
        for channel, found in by_channel.items()
    )

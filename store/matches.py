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

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, select, union
from sqlalchemy.orm import aliased

from store.models import CustomerContact, CustomerUnlink
from store.vocabulary import ContactTrust


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

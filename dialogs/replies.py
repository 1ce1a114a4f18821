"""Plain activities the flows send: text, text with an @mention, and where they go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cards.markdown import mention_entity, mention_markup
from store.core import ChatView, Person
from store.outbox import Outgoing, chat_lane, conversation_lane, mail_lane
from store.vocabulary import CreateThread, Email, MailPurpose, Refusal, Send, UpdateCard

# What an agent is told when the store refused, by reason (each key in full); a reason
# with no text of its own gets the neutral one.
REFUSAL_KEYS: dict[Refusal, str] = {
    Refusal.NOT_A_ROOM: "refusal.not_a_room",
    Refusal.SUPERVISOR_ONLY: "refusal.supervisor_only",
    Refusal.LAST_SUPERVISOR: "refusal.last_supervisor",
    Refusal.OFFER_NOT_ACTIVE: "refusal.offer_not_active",
    Refusal.TRANSFER_NOT_OWNER: "refusal.transfer_not_owner",
    Refusal.INVITE_NOT_PARTICIPANT: "refusal.invite_not_participant",
    Refusal.RECIPIENT_OFFLINE: "refusal.recipient_offline",
    Refusal.RECIPIENT_IN_CHAT: "refusal.recipient_in_chat",
    Refusal.INVITE_PENDING: "refusal.invite_pending",
    Refusal.TRANSFER_PENDING: "refusal.transfer_pending",
    Refusal.OFFER_CLOSED: "refusal.offer_closed",
    Refusal.OFFER_NOT_YOURS: "refusal.offer_not_yours",
    Refusal.JOIN_CLOSED: "refusal.join_closed",
    Refusal.ALREADY_IN_CHAT: "refusal.already_in_chat",
    Refusal.JOIN_NOT_SUPERVISOR: "refusal.join_not_supervisor",
    Refusal.LEAVE_NOT_PARTICIPANT: "refusal.leave_not_participant",
    Refusal.LEAVE_OWNER: "refusal.leave_owner",
    Refusal.NO_COLLEAGUES: "refusal.no_colleagues",
}


def refusal_key(reason: Refusal | str) -> str:
    """The text key of a refusal (a reason is a plain string too, as payloads carry it)."""
    return REFUSAL_KEYS.get(reason, "refusal.neutral")  # type: ignore[call-overload]

# Where the website's widget reads who speaks: ``channelData.supportBridge.kind`` is
# ``notice`` for the bridge's own words (shown as centred system lines) and ``agent`` for
# an agent's line (with ``name`` and ``initials``; ``from.name`` carries the name too).
# A notice that changes who helps the customer (an accept, a transfer, a close) carries
# ``helper``: the helper's name, or "" once nobody helps; the page's header shows it.
MARK = "supportBridge"


@dataclass(frozen=True)
class Mention:
    """An @mention of a Teams user; ``markup`` goes into the text where it should show."""

    person: Person

    @property
    def markup(self) -> str:
        return mention_markup(self.person)

    def entity(self) -> dict[str, Any]:
        return mention_entity(self.person)


def text_activity(text: str, *, mentions: tuple[Mention, ...] = ()) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "message", "text": text, "textFormat": "markdown"}
    if mentions:
        activity["entities"] = [m.entity() for m in mentions]
    return activity


def notice(activity: dict[str, Any], *, helper: str | None = None) -> dict[str, Any]:
    """The bridge's own words to a customer, marked so the widget shows them apart; with
    ``helper`` when they change who helps (the header would otherwise keep naming an agent
    who has gone: it learns the helper only from lines, and a close is a line too)."""
    mark: dict[str, Any] = {"kind": "notice"}
    if helper is not None:
        mark["helper"] = helper
    data = {**activity.get("channelData", {}), MARK: mark}
    return {**activity, "channelData": data}


def initials(name: str) -> str:
    """The first letters of a name's first and last words ("Nguyễn Thị Lan": "NL")."""
    words = [w for w in name.split() if w[:1].isalnum()]
    if not words:
        return "?"
    picked = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return picked.upper()


def by_agent(activity: dict[str, Any], name: str) -> dict[str, Any]:
    """An agent's line to a customer, signed with the agent's display name."""
    mark = {"kind": "agent", "name": name, "initials": initials(name)}
    return {
        **activity,
        "from": {"name": name},
        "channelData": {**activity.get("channelData", {}), MARK: mark},
    }


def agent_line(
    reference: dict[str, Any],
    chat_id: int,
    person: Person,
    activity: dict[str, Any],
    mail_in: float | None,
) -> list[Outgoing]:
    """An agent's reply to the customer, in their name; and, when the customer seems to
    have left (``mail_in``: seconds until it is due), a mail that will carry it."""
    line = to_conversation(reference, by_agent(activity, person.name), by=person.teams_id)
    return [line, *([mail(chat_id, delay=mail_in)] if mail_in is not None else [])]


def mail(chat_id: int, purpose: str = MailPurpose.REPLIES, *, delay: float = 0.0) -> Outgoing:
    """A mail to chat ``chat_id``'s customer (its lines are read when it is sent)."""
    return Outgoing.of(mail_lane(chat_id), Email(chat_id, purpose), delay)


def to_conversation(
    reference: dict[str, Any], activity: dict[str, Any], *, by: str | None = None
) -> Outgoing:
    """Send to a stored conversation (a customer, or a room's root). ``by``: the author of
    a line someone wrote (not a notice of the bridge's); lines of one author waiting in
    one lane may be delivered as one post."""
    lane = conversation_lane(reference["conversation"]["id"])
    return Outgoing.of(lane, Send(activity, conversation=reference, words=by))


def notice_to(reference: dict[str, Any], text: str) -> Outgoing:
    """The bridge's own words to the customer at ``reference`` (not kept in a transcript:
    said before a chat exists, or about a message that was not taken)."""
    return to_conversation(reference, notice(text_activity(text)))


def to_customer(
    chat: ChatView, activity: dict[str, Any], *, helper: str | None = None
) -> Outgoing:
    """Tell a chat's customer something in the bridge's own words; the transcript keeps it
    too, so that a forwarded transcript shows everything the customer read. ``helper``:
    who helps the customer from now on ("" nobody), when this notice changes it."""
    lane = conversation_lane(chat.customer_reference["conversation"]["id"])
    marked = notice(activity, helper=helper)
    send = Send(marked, conversation=chat.customer_reference, transcript_chat=chat.id)
    return Outgoing.of(lane, send)


def to_thread(chat_id: int, activity: dict[str, Any], *, by: str | None = None) -> Outgoing:
    """Send into a chat's thread (resolved at delivery, after the card is posted)."""
    return Outgoing.of(chat_lane(chat_id), Send(activity, chat_id=chat_id, words=by))


def new_thread(chat_id: int, room: dict[str, Any], activity: dict[str, Any]) -> Outgoing:
    return Outgoing.of(chat_lane(chat_id), CreateThread(chat_id, room, activity))


def card_update(chat_id: int, activity: dict[str, Any]) -> Outgoing:
    return Outgoing.of(chat_lane(chat_id), UpdateCard(chat_id, activity))

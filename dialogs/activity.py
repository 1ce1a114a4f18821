"""Reading inbound activities (plain JSON as on the wire): who, where, what, which key."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from store.channels import facts
from store.core import Person
from store.vocabulary import THREAD_MARK

NAME_LIMIT = 256
CONTACT_LIMIT = 256

# Direct Line with enhanced authentication refuses a user id other than the one its token
# binds, and such ids start with ``dl_``. Which channels vouch for ids, and which bind
# them by token, are channel facts (``store/channels.py``).
# The website widget's event when a customer opens the chat: the greeting comes then.
JOIN_EVENT = "webchat/join"
# A contact the customer shared with the company through the channel itself (a Zalo user
# answering the OA's request for information): ``value`` has ``phone`` (and ``name``).
# Believed only on a channel whose facts say it verifies such contacts.
SHARED_CONTACT_EVENT = "supportBridge/sharedContact"
# Marks an outgoing message as the company's request for the customer's phone
# (``channelData``; its value is the request's title): a channel that verifies contacts
# sends its own form for it (Zalo's ``request_user_info``), any other the text.
REQUEST_CONTACT_MARK = "supportBridgeRequestContact"
TOKEN_BOUND_PREFIX = "dl_"


def field(value: Any, *path: str) -> dict[str, Any]:
    """The object at ``path`` inside ``value``, or {} where anything on the way is not one.

    Channels put loosely typed JSON in ``channelData`` and ``entities``; a string where
    an object was expected must read as "absent", not fail the turn.
    """
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def conversation_id(activity: dict[str, Any]) -> str:
    return str(field(activity, "conversation").get("id") or "")


def thread_of(activity: dict[str, Any]) -> str | None:
    """The thread id (``<channel>;messageid=<root>``) of a channel reply, None at the root."""
    conversation = conversation_id(activity)
    return conversation if THREAD_MARK in conversation else None


def channel_of(activity: dict[str, Any]) -> str:
    channel = field(activity, "channelData", "channel").get("id")
    return str(channel or conversation_id(activity).split(";", 1)[0])


def team_of(activity: dict[str, Any]) -> str | None:
    team = field(activity, "channelData", "team").get("id")
    return str(team) if team else None


def tenant_of(activity: dict[str, Any]) -> str | None:
    """The Teams tenant the activity comes from; None when absent or when the two places
    Teams states it disagree."""
    values = (
        field(activity, "conversation").get("tenantId"),
        field(activity, "channelData", "tenant").get("id"),
    )
    stated = [v for v in values if v is not None]
    if not all(isinstance(v, str) and v for v in stated) or len(set(stated)) != 1:
        return None
    return stated[0]


def channel_in(activity: dict[str, Any]) -> str | None:
    """The channel the activity was written in, read from its conversation id; None when
    ``channelData`` names another one (an activity that contradicts itself)."""
    channel = conversation_id(activity).split(THREAD_MARK, 1)[0].split(";", 1)[0]
    stated = field(activity, "channelData", "channel").get("id")
    if not channel or (stated is not None and stated != channel):
        return None
    return channel


def person_of(activity: dict[str, Any]) -> Person:
    return account_person(field(activity, "from"))


def account_person(sender: dict[str, Any]) -> Person:
    """A Teams account (an activity's ``from``, a roster's member) as a person."""
    aad = sender.get("aadObjectId")
    return Person(
        teams_id=str(sender.get("id") or ""),
        name=display_name(sender),
        aad_object_id=aad[:64] if isinstance(aad, str) else None,
    )


@dataclass(frozen=True)
class PreChat:
    """What a website visitor said about themselves before writing (``channelData.prechat``,
    set by the chat page on every message): all optional, all the visitor's own words."""

    name: str | None = None
    contact: str | None = None
    department: str | None = None


def prechat_of(activity: dict[str, Any]) -> PreChat:
    given = field(activity, "channelData", "prechat")

    def text(key: str, limit: int) -> str | None:
        value = given.get(key)
        return (value.strip()[:limit] or None) if isinstance(value, str) else None

    return PreChat(
        name=text("name", NAME_LIMIT),
        contact=text("contact", CONTACT_LIMIT),
        department=text("department", NAME_LIMIT),
    )


# What a customer asked for a contact writes back: an e-mail address anywhere in a
# message; a phone number (from 0 or +, so an order number is not one) as the whole of
# one, with spaces, dots and dashes allowed.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?:\+|0)[0-9][0-9 .-]{6,15}[0-9]")


def offered_contact(text: str) -> str | None:
    """The e-mail address a message carries, or the phone number it is, if any."""
    found = _EMAIL.search(text)
    if found is not None:
        return found.group(0)[:CONTACT_LIMIT]
    said = text.strip()
    return said if _PHONE.fullmatch(said) else None


def shared_phone(activity: dict[str, Any]) -> str | None:
    """The phone number a channel says the customer shared with the company, if the
    activity is that event (its ``value.phone``)."""
    if activity.get("type") != "event" or activity.get("name") != SHARED_CONTACT_EVENT:
        return None
    value = activity.get("value")
    phone = value.get("phone") if isinstance(value, dict) else None
    return phone.strip()[:CONTACT_LIMIT] if isinstance(phone, str) and phone.strip() else None


def offline_shown(activity: dict[str, Any]) -> bool:
    """Whether the website already told the customer that nobody is online (the widget
    sets ``channelData.supportBridge.offlineShown`` on the message): the bridge's answer
    then does not say it a second time."""
    return field(activity, "channelData", "supportBridge").get("offlineShown") is True


def customer_joined(activity: dict[str, Any]) -> bool:
    """Whether the activity says a customer opened the chat (not the bot being added)."""
    if activity.get("type") == "event":
        return activity.get("name") == JOIN_EVENT
    if activity.get("type") != "conversationUpdate":
        return False
    bot_id = field(activity, "recipient").get("id")
    added = activity.get("membersAdded") or []
    return any(isinstance(m, dict) and m.get("id") and m.get("id") != bot_id for m in added)


def bot_added(activity: dict[str, Any]) -> bool:
    """Whether the activity says the bot itself was added (to a team or a chat)."""
    bot_id = str(field(activity, "recipient").get("id") or "")
    added = activity.get("membersAdded") or []
    return any(isinstance(m, dict) and m.get("id") == bot_id for m in added)


def reply_to(activity: dict[str, Any]) -> str | None:
    """The id of the message this one answers (a pressed card's), if the channel says."""
    pressed = activity.get("replyToId")
    return pressed if isinstance(pressed, str) and pressed else None


def display_name(account: dict[str, Any]) -> str:
    """An account's name (or id), cut to what the database keeps."""
    return str(account.get("name") or account.get("id") or "")[:NAME_LIMIT]


def bot_name(activity: dict[str, Any]) -> str:
    return str(field(activity, "recipient").get("name") or "Bot")


def _bot_mentions(activity: dict[str, Any]) -> list[str]:
    """The texts (``<at>Name</at>``) of the mentions of the bot in an activity."""
    bot_id = field(activity, "recipient").get("id")
    return [
        entity["text"]
        for entity in activity.get("entities") or []
        if isinstance(entity, dict)
        and entity.get("type") == "mention"
        and field(entity, "mentioned").get("id") == bot_id
        and isinstance(entity.get("text"), str)
        and entity["text"]
    ]


def mentioned_people(activity: dict[str, Any]) -> list[Person]:
    """The people @mentioned in an activity, in order, except the bot itself."""
    bot_id = field(activity, "recipient").get("id")
    people: list[Person] = []
    for entity in activity.get("entities") or []:
        mentioned = field(entity, "mentioned")
        teams_id = mentioned.get("id")
        if (
            field(entity).get("type") == "mention"
            and isinstance(teams_id, str)
            and teams_id
            and teams_id != bot_id
            and teams_id not in {p.teams_id for p in people}
        ):
            people.append(Person(teams_id=teams_id[:256], name=display_name(mentioned)))
    return people


def mentions_bot(activity: dict[str, Any]) -> bool:
    return bool(_bot_mentions(activity))


def text_for_bot(activity: dict[str, Any]) -> str:
    """The message text without the @mention of the bot; everything else kept exactly.

    Teams puts ``<at>Name</at>`` into the text for every mention; only the bot's
    own mention (the one whose id is the recipient's) is removed.
    """
    text = str(activity.get("text") or "")
    for mention in _bot_mentions(activity):
        text = text.replace(mention, "", 1)
    return text.strip()


def customer_key(activity: dict[str, Any], *, token_bound_ids: bool) -> str:
    """Who a customer is, as far as the channel can vouch for it.

    A vouched channel's user id, or a Direct Line id bound by a token
    (``token_bound_ids``: enhanced authentication is on), names the customer across
    conversations. Any other id is only believed within its conversation: the key
    joins it with a digest of the conversation id, so reusing someone's id from
    another conversation makes a new customer instead of writing into their chat.
    """
    channel = facts(str(activity.get("channelId") or ""))
    sender = str(field(activity, "from").get("id") or "")
    if channel.vouched or (
        token_bound_ids and channel.token_bound and sender.startswith(TOKEN_BOUND_PREFIX)
    ):
        return sender[:256]
    return f"{sender[:200]}@{conversation_key(activity)}"


def conversation_key(activity: dict[str, Any]) -> str:
    """A short digest of the conversation id (ids run to hundreds of characters)."""
    return hashlib.sha256(conversation_id(activity).encode()).hexdigest()[:32]


def activity_keys(activity: dict[str, Any]) -> list[str]:
    """Keys that identify a delivery: the channel's activity id, and Web Chat's own id.

    A channel re-delivers with the same id; Direct Line does not de-duplicate, but
    Web Chat sends ``channelData.clientActivityID``, stable across its retries.
    """
    channel = activity.get("channelId") or ""
    keys = []
    if activity.get("id"):
        keys.append(f"a|{channel}|{conversation_id(activity)}|{activity['id']}")
    client_id = field(activity, "channelData").get("clientActivityID")
    if isinstance(client_id, str | int) and client_id:
        # Bound to the conversation: nobody can spend another conversation's keys.
        sender = field(activity, "from").get("id") or ""
        keys.append(f"c|{channel}|{conversation_id(activity)}|{sender}|{client_id}")
    return keys


def reference_of(activity: dict[str, Any]) -> dict[str, Any]:
    """The conversation reference of an inbound activity, as plain camelCase JSON."""
    conversation = {
        k: v
        for k, v in field(activity, "conversation").items()
        if k in ("id", "isGroup", "conversationType", "tenantId", "name")
    }
    tenant = field(activity, "channelData", "tenant").get("id")
    if tenant and not conversation.get("tenantId"):
        conversation["tenantId"] = tenant
    return {
        "serviceUrl": activity.get("serviceUrl"),
        "channelId": activity.get("channelId"),
        "conversation": conversation,
        "bot": activity.get("recipient"),
        "user": activity.get("from"),
        "locale": activity.get("locale"),
    }

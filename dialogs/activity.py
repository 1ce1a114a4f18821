"""Reading inbound activities (plain JSON as on the wire): who, where, what, which key."""

from __future__ import annotations

import re
from typing import Any

from store.chats import Person

THREAD_MARK = ";messageid="
_AT_TAG = re.compile(r"<at>(.*?)</at>", re.DOTALL)


def conversation_id(activity: dict[str, Any]) -> str:
    return str((activity.get("conversation") or {}).get("id") or "")


def is_room_message(activity: dict[str, Any]) -> bool:
    """A Teams channel activity: the agents' side of the bridge."""
    conversation = activity.get("conversation") or {}
    return (
        activity.get("channelId") == "msteams" and conversation.get("conversationType") == "channel"
    )


def thread_of(activity: dict[str, Any]) -> str | None:
    """The thread id (``<channel>;messageid=<root>``) of a channel reply, None at the root."""
    conversation = conversation_id(activity)
    return conversation if THREAD_MARK in conversation else None


def channel_of(activity: dict[str, Any]) -> str:
    channel = ((activity.get("channelData") or {}).get("channel") or {}).get("id")
    return str(channel or conversation_id(activity).split(";", 1)[0])


def team_of(activity: dict[str, Any]) -> str | None:
    team = ((activity.get("channelData") or {}).get("team") or {}).get("id")
    return str(team) if team else None


def person_of(activity: dict[str, Any]) -> Person:
    sender = activity.get("from") or {}
    return Person(
        teams_id=str(sender.get("id") or ""),
        name=str(sender.get("name") or sender.get("id") or ""),
        aad_object_id=sender.get("aadObjectId"),
    )


def bot_name(activity: dict[str, Any]) -> str:
    return str((activity.get("recipient") or {}).get("name") or "Bot")


def text_for_bot(activity: dict[str, Any]) -> str:
    """The message text without the @mention of the bot; everything else kept exactly.

    Teams puts ``<at>Name</at>`` into the text for every mention; only the bot's
    own mention (the one whose id is the recipient's) is removed.
    """
    text = str(activity.get("text") or "")
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        if (
            isinstance(entity, dict)
            and entity.get("type") == "mention"
            and (entity.get("mentioned") or {}).get("id") == bot_id
            and entity.get("text")
        ):
            text = text.replace(str(entity["text"]), "", 1)
    if bot_id and "<at>" in text and not activity.get("entities"):
        text = _AT_TAG.sub("", text, count=1)
    return text.strip()


def activity_keys(activity: dict[str, Any]) -> list[str]:
    """Keys that identify a delivery: the channel's activity id, and Web Chat's own id.

    A channel re-delivers with the same id; Direct Line does not de-duplicate, but
    Web Chat sends ``channelData.clientActivityID``, stable across its retries.
    """
    channel = activity.get("channelId") or ""
    keys = []
    if activity.get("id"):
        keys.append(f"a|{channel}|{conversation_id(activity)}|{activity['id']}")
    client_id = (activity.get("channelData") or {}).get("clientActivityID")
    if client_id:
        sender = (activity.get("from") or {}).get("id") or ""
        keys.append(f"c|{channel}|{sender}|{client_id}")
    return keys


def reference_of(activity: dict[str, Any]) -> dict[str, Any]:
    """The conversation reference of an inbound activity, as plain camelCase JSON."""
    conversation = {
        k: v
        for k, v in (activity.get("conversation") or {}).items()
        if k in ("id", "isGroup", "conversationType", "tenantId", "name")
    }
    tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get("id")
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

"""Builders of inbound activities shaped like Teams, Web Chat and the Emulator send them."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

BOT = {"id": "28:support-bridge-bot", "name": "SupportBot"}
TENANT = "tenant-0001"
TEAM = "19:team-support@thread.tacv2"
ROOM = "19:room-support@thread.tacv2"

_ids = itertools.count(1)


def next_id() -> str:
    return f"act-{next(_ids)}"


@dataclass(frozen=True)
class Agent:
    id: str
    name: str

    @property
    def account(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aadObjectId": f"aad-{self.id[-6:]}"}


def agent(n: int, name: str | None = None) -> Agent:
    return Agent(id=f"29:agent-{n:04d}", name=name or f"Agent {n}")


def webchat_message(
    service_url: str,
    user: str,
    text: str,
    *,
    name: str = "Lan",
    locale: str = "vi-VN",
    channel: str = "webchat",
    activity_id: str | None = None,
    client_activity_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id or next_id(),
        "channelId": channel,
        "serviceUrl": service_url,
        "from": {"id": user, "name": name},
        "recipient": BOT,
        "conversation": {"id": f"conv-{user}"},
        "locale": locale,
        "text": text,
        **extra,
    }
    if client_activity_id:
        activity["channelData"] = {"clientActivityID": client_activity_id}
    return activity


def _channel_data(room: str = ROOM) -> dict[str, Any]:
    return {
        "teamsChannelId": room,
        "teamsTeamId": TEAM,
        "channel": {"id": room},
        "team": {"id": TEAM},
        "tenant": {"id": TENANT},
    }


def room_message(
    service_url: str,
    who: Agent,
    text: str,
    *,
    thread: str | None = None,
    mention_bot: bool = True,
    value: dict[str, Any] | None = None,
    activity_id: str | None = None,
    mentions: tuple[Agent, ...] = (),
    room: str = ROOM,
) -> dict[str, Any]:
    """A message in a room's channel (at the root, or a reply in ``thread``).

    Each of ``mentions`` is written as ``<at>Name</at>`` in place of ``@Name`` in the
    text, with its mention entity, as Teams sends them.
    """
    mention = f"<at>{BOT['name']}</at>"
    activity: dict[str, Any] = {
        "type": "message",
        "id": activity_id or next_id(),
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": who.account,
        "recipient": BOT,
        "conversation": {
            "id": thread or room,
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
        },
        "channelData": _channel_data(room),
        "locale": "en-US",
        "text": f"{mention} {text}" if mention_bot else text,
    }
    entities = [{"type": "mention", "text": mention, "mentioned": BOT}] if mention_bot else []
    for person in mentions:
        markup = f"<at>{person.name}</at>"
        activity["text"] = activity["text"].replace(f"@{person.name}", markup)
        entities.append(
            {"type": "mention", "text": markup, "mentioned": {"id": person.id, "name": person.name}}
        )
    if entities:
        activity["entities"] = entities
    if value is not None:
        activity["value"] = value
        activity["text"] = ""
        activity.pop("entities", None)
    return activity


def reply(service_url: str, who: Agent, thread: str, text: str, **kwargs: Any) -> dict[str, Any]:
    """``who`` writes in a chat's thread without @mentioning the bot, as agents do: a reply
    for the customer, a note or a command (``kwargs`` as for ``room_message``)."""
    return room_message(service_url, who, text, thread=thread, mention_bot=False, **kwargs)


def invoke_action(
    service_url: str, who: Agent, thread: str, verb: str, data: dict[str, Any]
) -> dict[str, Any]:
    """An ``Action.Execute`` press, as Teams sends it (invoke ``adaptiveCard/action``)."""
    activity = room_message(service_url, who, "", thread=thread, mention_bot=False)
    activity.pop("text")
    activity.pop("entities", None)
    activity["type"] = "invoke"
    activity["name"] = "adaptiveCard/action"
    activity["value"] = {
        "action": {"type": "Action.Execute", "verb": verb, "data": data},
        "trigger": "manual",
    }
    return activity


def refresh_invoke(
    service_url: str, who: Agent, thread: str, card: dict[str, Any]
) -> dict[str, Any]:
    """Teams asking for ``who``'s own view of ``card`` (Universal Actions' automatic
    refresh): the card's ``refresh.action``, sent as an ``adaptiveCard/action`` invoke."""
    action = card["refresh"]["action"]
    activity = invoke_action(service_url, who, thread, action["verb"], action["data"])
    activity["value"]["trigger"] = "automatic"
    return activity


def bot_added(service_url: str, who: Agent) -> dict[str, Any]:
    activity = room_message(service_url, who, "", mention_bot=False)
    activity.pop("text")
    activity["type"] = "conversationUpdate"
    activity["conversation"]["id"] = TEAM
    activity["membersAdded"] = [BOT]
    activity["channelData"]["eventType"] = "teamMemberAdded"
    activity["channelData"]["channel"] = {"id": TEAM}
    return activity

"""The customer channels, one module each behind the seam (``bot/channels/base.py``).

Registration is this module's list: a new channel is one module and one line in
:func:`make_channels` (and its facts in ``store/channels.py``). Delivery asks
:meth:`Channels.for_reference` which module sends to a customer; the app mounts the
webhook of every channel that has one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import aiohttp

from bot.channels.base import CustomerChannel, ReplyRefused, plain_text
from bot.channels.botframework import BotFrameworkChannel, MessengerChannel
from bot.channels.zalo import ZaloChannel
from bot.sdk import Connector
from bot.settings import Settings
from cards.markdown import message_text
from dialogs.i18n import Texts
from dialogs.replies import text_activity, to_thread
from store import Store
from store.channels import facts
from store.outbox import Outgoing
from store.reach import customer_reach
from store.unit import Unit

__all__ = ["Channels", "CustomerChannel", "ReplyRefused", "make_channels", "plain_text"]


class Channels:
    """The registered channels, in order: the first that handles a channel id sends to it
    (the Bot Framework family, last, takes every other id)."""

    def __init__(
        self,
        connector: Connector,
        channels: Sequence[CustomerChannel],
        team: Texts | None = None,
    ) -> None:
        """``team``: the agents' language, for what the bridge tells them about sends."""
        self.connector = connector
        self._channels = tuple(channels)
        self._team = team or Texts("en")

    def for_reference(self, reference: dict[str, Any]) -> CustomerChannel:
        channel_id = str(reference.get("channelId") or "")
        return next(c for c in self._channels if c.handles(channel_id))

    def with_webhooks(self) -> list[CustomerChannel]:
        return [c for c in self._channels if c.webhook is not None]

    def named(self, channel_id: str) -> CustomerChannel | None:
        return next((c for c in self._channels if c.facts.id == channel_id), None)

    async def refusal_notice(
        self, tx: Unit, payload: dict[str, Any], refused: ReplyRefused
    ) -> list[Outgoing]:
        """What the agents read in the customer's chat when their channel refused a reply:
        what happened, that the reply is kept, and how else to reach the customer.

        Only someone's line (``words``) is told about; the bridge's own notices (a goodbye
        after the window) are settled failed and logged, nobody is to act on them."""
        if payload.get("words") is None:
            return []
        reference = payload.get("conversation") or {}
        channel = str(reference.get("channelId") or "")
        user = str((reference.get("user") or {}).get("id") or "")
        reach = await customer_reach(tx, channel, user) if user else None
        if reach is None:
            return []
        t = self._team
        other = (
            t("agent.reply_refused.contact", contact=message_text(reach.contact))
            if reach.contact
            else t("agent.reply_refused.no_contact")
        )
        text = t(
            REFUSAL_KEYS.get(refused.reason, "agent.reply_refused.window_closed"),
            name=message_text(reach.name),
            channel=facts(channel).name,
            other=other,
        )
        return [to_thread(reach.chat_id, text_activity(text))]


# Why a channel refused a reply (``ReplyRefused.reason``), each with its text's key.
REFUSAL_KEYS = {"window_closed": "agent.reply_refused.window_closed"}


def make_channels(
    settings: Settings,
    connector: Connector,
    store: Store,
    session: aiohttp.ClientSession,
    clock: Callable[[], datetime],
) -> Channels:
    """Every channel the bridge serves; Zalo only where an OA is configured."""
    channels: list[CustomerChannel] = []
    if settings.zalo_enabled:
        channels.append(ZaloChannel(settings, store, session, clock))
    channels.append(MessengerChannel(connector, store, clock))
    channels.append(BotFrameworkChannel(connector))
    return Channels(connector, channels, Texts(settings.default_language))

"""The Bot Framework family: Web Chat, Direct Line, the Emulator, Teams personal chat,
Messenger and every other Azure Bot Service channel.

- **Inbound**: ``POST /api/messages``; ``bot/sdk`` checks the Bot Framework token (the
  Bot Connector vouches that the activity came through it), ``app.validate_activity``
  its shape; the activity is read into a ``Turn`` as it is.
- **Outbound**: the Bot Connector REST API through ``bot.sdk.Connector`` (one shared
  session). Text as Markdown, files as attachments with their URLs, quick replies as
  ``suggestedActions``, Adaptive Cards where the channel shows them.
- **Budgets and errors**: 429/5xx/time-outs are retried with back-off honouring
  ``Retry-After``; Teams' documented limits are kept before each send into a Teams
  conversation (``bot/pacing.py``), and only there.
- **Identity**: Teams, Messenger and the other service channels set ``from.id``
  themselves; Web Chat and Direct Line ids count only when a token bound them
  (``store/channels.py``).
- **Reply window**: none, except Messenger (:class:`MessengerChannel`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from bot.channels.base import Activity, CustomerChannel, Reference, ReplyRefused
from bot.sdk import Connector
from store import Store
from store.channels import FACEBOOK, WEBCHAT, facts
from store.reach import customer_reach

# Meta's tag for a human agent's answer between 24 hours and 7 days after the customer's
# last message (Azure Bot Service passes ``channelData`` to the Messenger Send API).
HUMAN_AGENT_TAG = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}


class BotFrameworkChannel(CustomerChannel):
    """Every Bot Framework channel without a window of its own: sent as it is."""

    facts = facts(WEBCHAT)

    def __init__(self, connector: Connector) -> None:
        self._connector = connector

    def handles(self, channel_id: str) -> bool:
        # The family takes every channel no other module claims.
        return True

    async def send(self, reference: Reference, activity: Activity) -> str:
        return await self._connector.send(reference, activity)


class MessengerChannel(BotFrameworkChannel):
    """Messenger through Azure Bot Service (``channelId`` ``facebook``).

    Meta lets a page answer freely for 24 hours after the customer's last message, and a
    human agent for 7 days when the message is tagged ``HUMAN_AGENT``; later it refuses.
    The bridge reads when the customer last wrote, tags the reply when it is needed, and
    past 7 days refuses it itself (:class:`ReplyRefused`): the agent is told, instead of
    a send that Meta would drop.
    """

    facts = facts(FACEBOOK)

    def __init__(
        self, connector: Connector, store: Store, clock: Callable[[], datetime]
    ) -> None:
        super().__init__(connector)
        self._store = store
        self._clock = clock

    def handles(self, channel_id: str) -> bool:
        return channel_id == self.facts.id

    async def send(self, reference: Reference, activity: Activity) -> str:
        window = self.facts.window
        user = str((reference.get("user") or {}).get("id") or "")
        async with self._store.reading() as tx:
            reach = await customer_reach(tx, self.facts.id, user)
        last = reach.last_inbound if reach is not None else None
        if window is not None and last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=UTC)
            now = self._clock()
            if activity.get("type", "message") != "message" and window.needs_tag(last, now):
                return ""  # a typing indicator outside the free window: nothing to tell
            if window.closed(last, now):
                raise ReplyRefused("window_closed", f"last message {last.isoformat()}")
            if window.needs_tag(last, now):
                data = activity.get("channelData")
                data = dict(data) if isinstance(data, dict) else {}
                activity = {**activity, "channelData": {**data, **HUMAN_AGENT_TAG}}
        return await super().send(reference, activity)

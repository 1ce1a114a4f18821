"""What the bridge knows about each customer channel, as plain facts.

The channel seam's pure half: the layers above the store (dialogs, cards) need a few
facts about a channel (what people call it, whether it shows quick replies or cards,
who vouches for a sender's id, how long a reply may follow the customer's last
message) but may not import ``bot/``, where each channel's I/O lives
(``bot/channels/``). One entry per channel here, one module per channel there; nothing
else names a channel id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TEAMS = "msteams"
WEBCHAT = "webchat"
DIRECTLINE = "directline"
EMULATOR = "emulator"
FACEBOOK = "facebook"
ZALO = "zalo"


@dataclass(frozen=True)
class ReplyWindow:
    """How long after the customer's last message a reply may go.

    ``free``: replies go as they are; ``tagged``: beyond ``free``, a reply still goes
    when it carries the channel's tag for a human agent (Messenger's ``HUMAN_AGENT``);
    past both, the channel refuses it. None where the channel has no limit.
    """

    free: timedelta
    tagged: timedelta | None = None

    @property
    def last(self) -> timedelta:
        return self.tagged or self.free

    def until(self, last_inbound: datetime) -> datetime:
        """The last moment a reply may go."""
        return last_inbound + self.last

    def needs_tag(self, last_inbound: datetime, now: datetime) -> bool:
        return now - last_inbound > self.free

    def closed(self, last_inbound: datetime, now: datetime) -> bool:
        return now - last_inbound > self.last


@dataclass(frozen=True)
class ChannelFacts:
    """One channel, as dialogs and cards see it.

    ``vouched``: the channel's service sets the sender's id, so the id names the same
    person in every conversation; ``token_bound``: the client picks its id, which only a
    Direct Line token with enhanced authentication binds (ids starting ``dl_``);
    ``quick_replies``: suggested actions show under a message; ``cards``: Adaptive
    Cards show (elsewhere a card becomes text and links); ``own_files``: attachment
    links only the channel itself can open (Teams' pasted pictures); ``paced``: Teams'
    documented limits apply to sends into it; ``window``: its reply window;
    ``says_join``: it tells when a customer opens the chat (``conversationUpdate``, the
    widget's ``webchat/join``), so the greeting comes before they write (elsewhere the
    first reply leads with it); ``replaces_sent``: the bot can replace a message it sent
    (an answered card is locked in place; Direct Line cannot); ``verifies_contacts``: a
    contact the customer shares through the channel itself is the channel's own record
    (Zalo's shared phone), so a match on it is verified, not only the customer's word.
    """

    id: str
    name: str
    vouched: bool = False
    token_bound: bool = False
    quick_replies: bool = False
    cards: bool = True
    own_files: bool = False
    paced: bool = False
    window: ReplyWindow | None = None
    says_join: bool = False
    replaces_sent: bool = False
    verifies_contacts: bool = False


MESSENGER_WINDOW = ReplyWindow(free=timedelta(hours=24), tagged=timedelta(days=7))
# Zalo lets an OA send consultation messages for 7 days after the user's last
# interaction (it refuses later ones itself; the bridge shows the window on the card).
ZALO_WINDOW = ReplyWindow(free=timedelta(days=7))

_KNOWN = (
    ChannelFacts(WEBCHAT, "Website", token_bound=True, quick_replies=True, says_join=True),
    ChannelFacts(DIRECTLINE, "Website", token_bound=True, quick_replies=True, says_join=True),
    ChannelFacts(EMULATOR, "Emulator", quick_replies=True, says_join=True, replaces_sent=True),
    ChannelFacts(
        TEAMS,
        "Teams",
        vouched=True,
        quick_replies=True,
        own_files=True,
        paced=True,
        replaces_sent=True,
    ),
    ChannelFacts(FACEBOOK, "Messenger", vouched=True, quick_replies=True, window=MESSENGER_WINDOW),
    ChannelFacts(
        ZALO, "Zalo", vouched=True, cards=False, window=ZALO_WINDOW, verifies_contacts=True
    ),
    ChannelFacts("skype", "Skype", vouched=True),
    ChannelFacts("telegram", "Telegram", vouched=True, quick_replies=True),
    ChannelFacts("line", "LINE", vouched=True, quick_replies=True),
    ChannelFacts("slack", "Slack", vouched=True),
    ChannelFacts("email", "Email", vouched=True, cards=False),
    ChannelFacts("sms", "SMS", vouched=True, cards=False),
    ChannelFacts("kik", "Kik", vouched=True),
    ChannelFacts("groupme", "GroupMe", vouched=True),
)
CHANNELS: dict[str, ChannelFacts] = {facts.id: facts for facts in _KNOWN}


def facts(channel_id: str) -> ChannelFacts:
    """The facts of a channel; an unknown one vouches for nothing, shows cards and no
    quick replies, and is called by its id, capitalised."""
    found = CHANNELS.get(channel_id.lower())
    return found or ChannelFacts(channel_id, channel_id.capitalize() or "-")


def mailed_channels() -> frozenset[str]:
    """Channels whose customers may be gone while their chat stays open (the website):
    an agent's reply is also mailed to them when they have been quiet a while."""
    return frozenset(c.id for c in CHANNELS.values() if c.token_bound)


def is_teams(channel_id: str) -> bool:
    """Teams: the agents' side, and the one channel whose limits pacing keeps."""
    return channel_id == TEAMS

"""The transcript page: a document to read on a phone, print or forward.

A header says what the chat was (department, agents and their roles, opened and closed
in the team's time zone, how long the customer waited and how long it took, tags);
then the conversation on two sides, the customer's on the left and the team's on the
right, including what the bridge itself told the customer. Internal notes stand apart.

A Jinja template with autoescape (the one escaping for HTML pages). The page loads
nothing from anywhere else: a customer's pictures and files are links (opened only when
an agent chooses to), never ``<img>`` requests that would tell the customer's server
when and from where an agent reads the chat; ``CONTENT_POLICY`` says so to the browser.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import jinja2
from babel.dates import format_date, format_time
from markupsafe import Markup

from cards.markdown import checked_url
from cards.request import ROLE_KEYS, STATE_KEYS, channel_name
from cards.times import duration, local_time, zone, zone_said
from dialogs.i18n import Texts
from store.models import ChatState, MessageKind
from store.transcripts import Transcript, TranscriptLine
from store.vocabulary import ChatEvent

_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1b1b1b;background:#f4f4f6}
header,main{max-width:48rem;margin:0 auto;padding:1rem}
header{background:#fff;border-bottom:1px solid #ddd}
h1{font-size:1.25rem;margin:0 0 .4rem;overflow-wrap:anywhere}
.state{display:inline-block;padding:.15rem .6rem;border-radius:.3rem;font-weight:600;
margin:0 0 .8rem;background:#fde7b0}
.state.active{background:#cdf5cd}.state.closed{background:#e6e6e6}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
.zone{color:#555;font-size:.85rem;margin:.8rem 0 0}
ol{list-style:none;margin:0;padding:0}
li{margin:.7rem 0;max-width:85%}
.customer{margin-right:auto}
.team,.bot,.firstbot{margin-left:auto}
.firstbot .meta{text-align:right}
.firstbot .bubble{background:#eef6ee;border-color:#bcd9bc}
h2{font-size:1rem;margin:1.2rem 0 .2rem}
.meta{font-size:.8rem;color:#555;margin:0 .3rem .15rem}
.team .meta,.bot .meta{text-align:right}
.bubble{padding:.5rem .75rem;border-radius:.8rem;white-space:pre-wrap;overflow-wrap:anywhere;
background:#fff;border:1px solid #d6d6d6}
.team .bubble{background:#e8ebfa;border-color:#c4cbf0}
.bot .bubble{background:#f0f0f0;color:#333;font-style:italic}
.note{max-width:100%}
.note .bubble{background:#fff6da;border:1px dashed #a86b00}
.note .meta{color:#7a4e00;font-weight:600}
.event,.day{max-width:100%;text-align:center;color:#555;font-size:.85rem}
.day{font-weight:600;margin-top:1.2rem}
.files{margin:.3rem 0 0;display:flex;flex-wrap:wrap;gap:.4rem}
.team .files,.bot .files{justify-content:flex-end}
a{color:#3346b8}
@media print{
body{background:#fff;font-size:10.5pt}
header,main{max-width:none;padding:0}
header{border:0;margin-bottom:1rem}
li{break-inside:avoid}
.bubble,.team .bubble,.bot .bubble{border-color:#888;background:none}
.state,.state.active,.state.closed{background:none;border:1px solid #000}
.note .bubble{background:none;border:1.5px dashed #000}
a.file::after{content:" (" attr(href) ")";font-size:.8em;color:#444}
}
"""

_SIDE = {
    MessageKind.INCOMING: "customer",
    MessageKind.OUTGOING: "team",
    MessageKind.BOT: "bot",
    MessageKind.NOTE: "note",
    MessageKind.FIRST_BOT: "firstbot",
}
PICTURE_MARK = "🖼"
FILE_MARK = "📎"

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("bot", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()


def content_policy(frame_ancestors: str = "'none'") -> str:
    """The page's Content-Security-Policy: its own style only, nothing third party
    (``frame_ancestors``: who may frame it; the console frames it from its own origin)."""
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src 'sha256-{_STYLE_HASH}'",
            "img-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def _files(line: TranscriptLine) -> list[dict[str, str]]:
    """Pictures and other files as links (a picture is marked as one, never loaded)."""
    shown = []
    for f in line.attachments:
        url, name = checked_url(f.get("url")), str(f.get("name", ""))
        if url is None:
            continue
        mark = PICTURE_MARK if str(f.get("contentType", "")).startswith("image/") else FILE_MARK
        shown.append({"url": url, "name": name, "mark": mark})
    return shown


def _facts(transcript: Transcript, t: Texts, zone_name: str) -> list[tuple[str, str]]:
    chat = transcript.chat
    language = t.language
    people = ", ".join(
        t("card.participant", name=name, role=t(ROLE_KEYS[role]))
        for name, role in dict(transcript.participants).items()
    )
    facts = [
        (t("transcript.customer"), f"{chat.customer_name} · {channel_name(chat.customer_channel)}"),
        (t("card.department"), chat.department or "-"),
        (t("transcript.agents"), people or "-"),
        (t("transcript.opened"), local_time(chat.created_at, zone_name, language)),
    ]
    if chat.accepted_at is not None:
        facts.append((t("transcript.wait"), duration(chat.accepted_at - chat.created_at, language)))
    if chat.closed_at is not None:
        facts.append((t("transcript.closed"), local_time(chat.closed_at, zone_name, language)))
        facts.append((t("card.duration"), duration(chat.closed_at - chat.created_at, language)))
    if chat.tags:
        facts.append((t("transcript.tags"), ", ".join(chat.tags)))
    return facts


# A transcript's event lines (``MessageKind.ACTIVITY``), by what the store wrote, each
# with its text's key.
EVENT_KEYS = {
    ChatEvent.ACCEPTED: "event.chat.accepted",
    ChatEvent.CLOSED: "event.chat.closed",
    ChatEvent.MOVED: "event.chat.moved",
    ChatEvent.TRANSFERRED: "event.chat.transferred",
    ChatEvent.INVITE_ACCEPTED: "event.chat.invite_accepted",
    ChatEvent.SUPERVISOR_JOINED: "event.chat.supervisor_joined",
    ChatEvent.LEFT: "event.chat.left",
    "rated_1": "event.rated_1",
    "rated_2": "event.rated_2",
    "rated_3": "event.rated_3",
    "rated_4": "event.rated_4",
    "rated_5": "event.rated_5",
}


def _items(transcript: Transcript, t: Texts, zone_name: str) -> Iterator[dict[str, Any]]:
    """The log's entries: a day's heading, an event, or a message with its files."""
    tz, language = zone(zone_name), t.language
    day = None
    for line in transcript.lines:
        local = line.at.astimezone(tz)
        if local.date() != day:
            day = local.date()
            yield {"day": format_date(local, "full", locale=language)}
        stamp = {"iso": line.at.isoformat(), "at": format_time(local, "short", locale=language)}
        if line.kind == MessageKind.ACTIVITY:
            key = EVENT_KEYS.get(line.text)
            yield {"event": t(key, author=line.author) if key else line.text, **stamp}
            continue
        side = _SIDE.get(line.kind, "team")
        author = {
            "bot": t("transcript.bot"),
            "firstbot": t("transcript.first_bot"),
            "note": t("transcript.note", author=line.author),
        }.get(side, line.author)
        yield {"side": side, "author": author, "text": line.text, "files": _files(line), **stamp}


def render(transcript: Transcript, t: Texts, zone_name: str = "UTC") -> str:
    """The whole chat as one HTML page in ``t``'s language and ``zone_name``'s times."""
    chat = transcript.chat
    state = ChatState(chat.state).value
    return _TEMPLATES.get_template("transcript.html").render(
        lang=t.language,
        title=t("transcript.heading", customer=chat.customer_name, department=chat.department),
        # The bridge's own constant, hashed into the policy (autoescape would break CSS).
        style=Markup(_STYLE),
        state=state,
        state_text=t(STATE_KEYS[chat.state]),
        facts=_facts(transcript, t, zone_name),
        zone_text=t("transcript.zone", zone=zone_said(zone_name, chat.created_at, t.language)),
        **_parts(transcript, t, zone_name),
    )


def _parts(transcript: Transcript, t: Texts, zone_name: str) -> dict[str, Any]:
    """The log, in two parts when the company's bot answered first: up to its last line
    (its part, the customer's lines with it), then the agents' part."""
    lines = transcript.lines
    last = max(
        (i for i, line in enumerate(lines) if line.kind == MessageKind.FIRST_BOT), default=-1
    )
    if last < 0:
        return {"items": list(_items(transcript, t, zone_name)), "bot_items": []}
    before = replace(transcript, lines=lines[: last + 1])
    after = replace(transcript, lines=lines[last + 1 :])
    return {
        "bot_items": list(_items(before, t, zone_name)),
        "bot_heading": t("transcript.first_bot_part"),
        "items": list(_items(after, t, zone_name)),
        "agents_heading": t("transcript.agents_part"),
    }

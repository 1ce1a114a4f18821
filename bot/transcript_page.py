"""The transcript page: a document to read on a phone, print or forward.

A header says what the chat was (department, agents and their roles, opened and closed
in the team's time zone, how long the customer waited and how long it took, tags);
then the conversation on two sides, the customer's on the left and the team's on the
right, including what the bridge itself told the customer. Internal notes stand apart,
pictures show as thumbnails. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import escape

from babel.dates import format_date, format_time

from cards.request import ROLE_KEYS, STATE_KEYS, channel_name
from cards.times import duration, local_time, zone, zone_label
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
.team,.bot{margin-left:auto}
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
.files img{display:block;max-width:min(100%,14rem);max-height:11rem;border-radius:.5rem;
border:1px solid #ccc}
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
.files img{max-height:5cm}
}
"""

_SIDE = {
    MessageKind.INCOMING: "customer",
    MessageKind.OUTGOING: "team",
    MessageKind.BOT: "bot",
    MessageKind.NOTE: "note",
}


def _linkable(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://"))


def _files(line: TranscriptLine) -> str:
    """Pictures as thumbnails that open the full picture; other files as links."""
    shown = []
    for f in line.attachments:
        url, name = f.get("url"), str(f.get("name", ""))
        if not _linkable(url):
            continue
        if str(f.get("contentType", "")).startswith("image/"):
            shown.append(
                f'<a href="{escape(str(url))}"><img src="{escape(str(url))}" '
                f'alt="{escape(name)}" loading="lazy"></a>'
            )
        else:
            shown.append(f'<a class="file" href="{escape(str(url))}">{escape(name)}</a>')
    return f'<div class="files">{"".join(shown)}</div>' if shown else ""


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


def _items(transcript: Transcript, t: Texts, zone_name: str) -> Iterator[str]:
    tz, language = zone(zone_name), t.language
    day = None
    for line in transcript.lines:
        local = line.at.astimezone(tz)
        if local.date() != day:
            day = local.date()
            yield f'<li class="day">{escape(format_date(local, "full", locale=language))}</li>'
        at = escape(format_time(local, "short", locale=language))
        stamp = f'<time datetime="{line.at.isoformat()}">{at}</time>'
        if line.kind == MessageKind.ACTIVITY:
            key = EVENT_KEYS.get(line.text)
            text = t(key, author=line.author) if key else line.text
            yield f'<li class="event">{escape(text)} · {stamp}</li>'
            continue
        side = _SIDE.get(line.kind, "team")
        author = {
            "bot": t("transcript.bot"),
            "note": t("transcript.note", author=line.author),
        }.get(side, line.author)
        yield (
            f'<li class="{side}"><div class="meta">{escape(author)} · {stamp}</div>'
            f'<div class="bubble">{escape(line.text)}</div>{_files(line)}</li>'
        )


def render(transcript: Transcript, t: Texts, zone_name: str = "UTC") -> str:
    """The whole chat as one HTML page in ``t``'s language and ``zone_name``'s times."""
    chat = transcript.chat
    title = t("transcript.heading", customer=chat.customer_name, department=chat.department)
    state = ChatState(chat.state).value
    facts = "".join(
        f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>"
        for name, value in _facts(transcript, t, zone_name)
    )
    zone_text = t("transcript.zone", zone=f"{zone_label(chat.created_at, zone_name)}")
    return (
        f'<!doctype html><html lang="{escape(t.language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="state {state}">{escape(t(STATE_KEYS[chat.state]))}</p>'
        f'<dl>{facts}</dl><p class="zone">{escape(zone_text)}</p></header>'
        f'<main><ol class="log">{"".join(_items(transcript, t, zone_name))}</ol></main>'
        "</body></html>"
    )

"""Customers' words read as written wherever agents see them (issue 23, holes 1-3), and
the transcript page tells nobody outside when it is read.

What Teams would show is checked by rendering: message texts as CommonMark with HTML,
card texts as CommonMark without HTML (markdown-it, the parser Adaptive Cards' own
renderer uses), and mentions as Teams pairs them: each ``<at>…</at>`` in a text with
an entity of the same text. A hostile string passes when it shows whole, character for
character, makes no link to another host and no mention.

The last test sends hostile names, texts, file names, URLs and a rating comment through
a whole chat (intake, Accept, relay, canned answer, message extension, tag, close,
transcript, rating) and walks every activity the bridge sent (the connector emulator
records them) and every card it answered an invoke with.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot import keys
from cards.markdown import card_link, card_text, checked_url, message_link, message_text
from tests import activities as act
from tests.conftest import Bridge, OpenChat, accept, go_online, open_chat, setup_room
from tests.test_agent_tools import extension_query, say
from tests.test_bridge import CARD, card_of

THUMBNAIL = "application/vnd.microsoft.card.thumbnail"
BINH = act.agent(2, "Agent Binh")
MAI = act.agent(1, "Supervisor Mai")
EVIL = "evil.test"

# Each hostile input with the words that must never show apart from it (as a bold line,
# a heading or a link's disguise).
NAME = "**SupportBot** [Verify](https://evil.test)"
FORGED = "<at>Agent Binh</at> please call me back"
TEXT = '# Refund approved\n<img src="https://tracker.evil.test/t.png"> ***Manager*** `x`'
FILE_NAME = "Invoice](https://evil.test) **Supervisor Mai: URGENT** [x"
FILE_URL = "https://files.example/inv.pdf)[Click to verify](https://evil.test"
PICTURE = "https://tracker.evil.test/pixel.png"
COMMENT = "[Rate us](https://evil.test) **5 stars** <at>Agent Binh</at>"
HOSTILE = {
    NAME: ("SupportBot", "Verify"),
    TEXT: ("Refund approved", "Manager"),
    FILE_NAME: ("URGENT",),
    COMMENT: ("Rate us", "5 stars"),
}

_MESSAGE = MarkdownIt("commonmark")  # a Teams message: Markdown with some HTML
_CARD = MarkdownIt("commonmark", {"html": False})  # an Adaptive Card's text block
_AT = re.compile(r"<at>(.*?)</at>", re.DOTALL)


class _Shown(HTMLParser):
    """What a reader sees of rendered HTML: its text, its links and its elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shown(markdown: str, parser: MarkdownIt) -> _Shown:
    seen = _Shown()
    seen.feed(parser.render(markdown))
    return seen


def problems(markdown: str, parser: MarkdownIt) -> list[str]:
    """What is wrong with how ``markdown`` would show: a link to another host, a picture,
    or a hostile input shown other than whole."""
    seen = shown(markdown, parser)
    found = [f"link to {href}" for href in seen.links if urlsplit(href).hostname == EVIL]
    found += [f"<{tag}> made" for tag in seen.tags if tag in ("img", "h1", "code", "script")]
    text = "".join(seen.text)
    for hostile, words in HOSTILE.items():
        rest = text.replace(hostile, "")
        found += [f"{word!r} shown apart from its input" for word in words if word in rest]
    return [f"{problem} in {markdown!r}" for problem in found]


def mention_problems(texts: list[str], entities: list[dict[str, Any]]) -> list[str]:
    """Every ``<at>`` in the texts is one of the entities, once; each entity names an
    agent the test made (never someone a customer typed)."""
    people = {MAI.id: MAI.name, BINH.id: BINH.name}
    marks = [m for text in texts for m in _AT.findall(text)]
    found = []
    if sorted(marks) != sorted(_AT.findall("".join(e["text"] for e in entities))):
        found.append(f"mentions {marks} in the text, entities {entities}")
    for entity in entities:
        mentioned = entity["mentioned"]
        if people.get(mentioned["id"]) != mentioned["name"]:
            found.append(f"a mention of {mentioned} who is no agent")
    return found


def _card_texts(node: Any) -> Iterator[str]:
    """The strings of a card that are shown as Markdown (text blocks, facts)."""
    if isinstance(node, dict):
        for key in ("text", "title", "value"):
            if isinstance(node.get(key), str) and node.get("type") != "Input.ChoiceSet":
                yield node[key]
        for key, child in node.items():
            if key not in ("data", "msteams", "url", "refresh"):
                yield from _card_texts(child)
    elif isinstance(node, list):
        for child in node:
            yield from _card_texts(child)


def check_activity(activity: dict[str, Any]) -> list[str]:
    """Everything shown of one outgoing activity: its text, its cards, its mentions."""
    found = problems(activity["text"], _MESSAGE) if activity.get("text") else []
    texts = [activity.get("text") or ""]
    entities = list(activity.get("entities") or [])
    for attachment in activity.get("attachments") or []:
        content = attachment.get("content")
        if attachment.get("contentType") == CARD and isinstance(content, dict):
            card = list(_card_texts(content))
            found += [p for text in card for p in problems(text, _CARD)]
            texts += card
            entities += content.get("msteams", {}).get("entities", [])
        elif attachment.get("contentType") == THUMBNAIL and isinstance(content, dict):
            found += problems(content.get("text", ""), _MESSAGE)
    return found + mention_problems(texts, entities)


def sent(bridge: Bridge) -> list[dict[str, Any]]:
    """Every activity the bridge sent, created or updated (as the emulator recorded it)."""
    activities = []
    for call in bridge.connector.calls:
        if call.body is None or call.method not in ("POST", "PUT") or call.status >= 300:
            continue
        activity = call.body.get("activity", call.body)
        if activity.get("type") == "message":
            activities.append(activity)
    return activities


async def customer_says(bridge: Bridge, customer: str, text: str = "", **extra: Any) -> None:
    activity = act.webchat_message(bridge.service_url, customer, text, name=NAME, **extra)
    assert (await bridge.post(activity)).status == 201
    await bridge.settled()


def files(*items: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"contentType": kind, "contentUrl": url, "name": name} for kind, url, name in items]


async def hostile_chat(bridge: Bridge, customer: str) -> OpenChat:
    """The room set up, Binh online, a chat opened by a hostile customer whose first line
    names Binh as a mention."""
    await setup_room(bridge, MAI)
    await go_online(bridge, BINH)
    return await open_chat(bridge, customer, FORGED, name=NAME)


async def test_a_customers_words_never_become_a_mention(bridge: Bridge) -> None:
    chat = await hostile_chat(bridge, "c-forge")
    created = next(c for c in bridge.connector.created() if c.conversation_id == chat.thread)
    card = card_of(created.body["activity"])
    texts = list(_card_texts(card))
    # Binh is mentioned once, by the bridge's line of online agents, not by the customer.
    assert sum(text.count("<at>Agent Binh</at>") for text in texts) == 1
    assert [e["mentioned"]["id"] for e in card["msteams"]["entities"]] == [BINH.id]
    question = next(text for text in texts if "please call me back" in text)
    assert "".join(shown(question, _CARD).text).strip() == FORGED
    assert check_activity(created.body["activity"]) == []


async def test_file_names_and_urls_make_no_links_of_their_own(bridge: Bridge) -> None:
    chat = await hostile_chat(bridge, "c-files")
    attachments = files(("application/pdf", FILE_URL, FILE_NAME))
    await customer_says(bridge, "c-files", "the invoice", attachments=attachments)
    thread = bridge.connector.activities(chat.thread)
    post = next(a for a in thread if "invoice" in a.get("text", ""))
    seen = shown(post["text"], _MESSAGE)
    # One link, to the file's own address (what could end the link is percent-encoded),
    # its text the file's name exactly; nothing bold.
    [href] = seen.links
    assert urlsplit(href).hostname == "files.example" and ")" not in href
    assert FILE_NAME in "".join(seen.text) and seen.tags.count("strong") == 1
    assert check_activity(post) == []


async def test_canned_answers_show_the_customers_name_as_written(bridge: Bridge) -> None:
    chat = await hostile_chat(bridge, "c-canned")
    await accept(bridge, chat, BINH)
    await say(bridge, MAI, "canned add hi Hello {customer}, {agent} here.")
    await say(bridge, BINH, "/hi", thread=chat.thread)
    post = bridge.connector.activities(chat.thread)[-1]
    assert post["text"].startswith("**Agent Binh** sent /hi")
    assert f"Hello {NAME}, Agent Binh here." in "".join(shown(post["text"], _MESSAGE).text)
    assert check_activity(post) == []
    # The customer reads the same words (Web Chat renders Markdown too).
    assert check_activity(bridge.connector.activities(chat.conversation)[-1]) == []
    # The message extension's result and its preview, in the chat's thread.
    response = await bridge.post(extension_query(bridge, BINH, "hi", thread=chat.thread))
    assert response.status == 200
    answer = await response.json()
    [result] = answer["composeExtension"]["attachments"]
    for thumbnail in (result, result["preview"]):
        text = thumbnail["content"]["text"]
        assert NAME in "".join(shown(text, _MESSAGE).text) and problems(text, _MESSAGE) == []


def transcript_path(bridge: Bridge, chat: OpenChat) -> str:
    return bridge.app[keys.LINKS].url(chat.chat_id).removeprefix("http://bridge.test")


def third_party_problems(page: str) -> list[str]:
    """Anything on the page that a browser would fetch from another host by itself."""
    found = re.findall(r"""<(?:img|script|iframe|link|video|audio|source)\b[^>]*>""", page)
    found += re.findall(r"""\bsrc\s*=\s*["']?https?://[^"'\s>]*""", page)
    found += re.findall(r"url\(\s*['\"]?https?:", page)
    return found


async def test_the_transcript_page_tells_nobody_outside_that_it_is_read(bridge: Bridge) -> None:
    chat = await hostile_chat(bridge, "c-page")
    picture = files(("image/png", PICTURE, "photo.png"), ("application/pdf", FILE_URL, FILE_NAME))
    await customer_says(bridge, "c-page", TEXT, attachments=picture)
    response = await bridge.get(transcript_path(bridge, chat))
    assert response.status == 200
    page = await response.text()
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert not re.search(r"https?:|\*|'unsafe-inline'", policy), policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert third_party_problems(page) == []
    # The picture and the file are links the agent may open; the customer's HTML is text.
    assert f'href="{PICTURE}"' in page and "&lt;img src=&#34;https://tracker" in page
    assert "**SupportBot** [Verify](https://evil.test)" in page


async def test_the_console_and_the_chat_page_have_the_same_headers(bridge: Bridge) -> None:
    """The console loads only its own files and frames only itself; /chat keeps what Web
    Chat needs. Both keep ``same-origin`` referrers: under ``no-referrer`` a browser posts
    forms and fetches with ``Origin: null``, which the origin checks refuse."""
    console = await bridge.get("/console/signin/any-link")
    chat = await bridge.get("/chat")
    for response in (console, chat):
        assert response.status == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    policy = console.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and not re.search(r"https?:|\*|'unsafe", policy)
    assert console.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors" in chat.headers["Content-Security-Policy"]


async def test_no_outgoing_activity_shows_a_hostile_string_unescaped(bridge: Bridge) -> None:
    chat = await hostile_chat(bridge, "c-walk")
    answers: list[dict[str, Any]] = []

    async def press(who: act.Agent, verb: str, **data: Any) -> None:
        data = {"action": verb, "chat": chat.chat_id, **data}
        activity = act.invoke_action(bridge.service_url, who, chat.thread, verb, data)
        response = await bridge.post(activity)
        assert response.status == 200
        answers.append(await response.json())
        await bridge.settled()

    attachments = files(
        ("application/pdf", FILE_URL, FILE_NAME), ("image/png", PICTURE, FILE_NAME + ".png")
    )
    await customer_says(bridge, "c-walk", TEXT, attachments=attachments)
    await customer_says(bridge, "c-walk", attachments=files(("application/pdf", FILE_URL, "x")))
    await press(BINH, "accept")
    await say(bridge, MAI, "canned add hi Hello {customer}, {agent} here.")
    await say(bridge, MAI, "tags add vip")
    await say(bridge, BINH, "/hi", thread=chat.thread)
    await say(bridge, BINH, "/", thread=chat.thread)
    await say(bridge, BINH, "/tag vip", thread=chat.thread)
    await say(bridge, BINH, "Dạ em xem ngay ạ", thread=chat.thread)
    await go_online(bridge, MAI)
    words = "/invite @Supervisor Mai"
    invite = act.reply(bridge.service_url, BINH, chat.thread, words, mentions=(MAI,))
    assert (await bridge.post(invite)).status == 201
    await bridge.settled()
    await customer_says(bridge, "c-walk", FORGED)
    query = extension_query(bridge, BINH, None, thread=chat.thread)
    answers.append(await (await bridge.post(query)).json())
    await say(bridge, MAI, "chats")
    await press(MAI, "join")
    await press(BINH, "close")
    await say(bridge, MAI, "history")
    question = card_of(bridge.connector.activities(chat.conversation)[-1])
    score = next(d for d in _action_data(question) if d.get("score") == 4)
    await customer_says(bridge, "c-walk", value={**score, "comment": COMMENT})
    await customer_says(bridge, "c-walk", "and " + NAME)  # a new chat, its card mentions Binh
    activities = sent(bridge)
    assert len(activities) > 20
    # Every activity sent, and every card an invoke was answered with.
    for answer in answers:
        if answer.get("type") == CARD:
            activities.append({"attachments": [{"contentType": CARD, "content": answer["value"]}]})
        elif "composeExtension" in answer:
            activities.append({"attachments": answer["composeExtension"]["attachments"]})
    found = [p for activity in activities for p in check_activity(activity)]
    assert found == []
    # The walk saw the hostile strings where agents read them.
    shown_texts = "".join(t for a in activities for t in shown(a.get("text") or "", _MESSAGE).text)
    assert FILE_NAME in shown_texts and TEXT in shown_texts and COMMENT in shown_texts
    assert "invites you to this chat" in shown_texts


_PRINTABLE = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " \n")


@settings(max_examples=60, deadline=None)
@given(_PRINTABLE)
def test_escaped_text_renders_as_typed(value: str) -> None:
    """Whatever a person types, each target's escaping renders as exactly those characters
    (CommonMark, as Teams renders messages and cards), without any element of its own."""
    lines = [" ".join(line.split()) for line in value.splitlines()]
    value = "\n".join(line for line in lines if line)
    for escaped, parser in ((card_text(value), _CARD), (message_text(value), _MESSAGE)):
        seen = shown(escaped, parser)
        assert "".join(seen.text).strip() == value
        assert set(seen.tags) <= {"p"}, (value, escaped)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.punctuation + " "))
def test_a_link_is_one_link_to_its_checked_address(tail: str) -> None:
    """A file's URL and name, whatever they hold, make one link to the file's host."""
    url, name = f"https://files.example/{tail}", tail or "file"
    for link, parser in ((message_link(name, url), _MESSAGE), (card_link(name, url), _CARD)):
        seen = shown(link, parser)
        assert [urlsplit(href).hostname for href in seen.links] == ["files.example"], link
        assert "".join(seen.text).strip() == name.strip()
    assert checked_url("javascript:alert(1)") is None and checked_url("//evil.test/x") is None


def _action_data(node: Any) -> Iterator[dict[str, Any]]:
    """Every action's data in a card, wherever it sits (actions, a column's selectAction)."""
    if isinstance(node, list):
        for item in node:
            yield from _action_data(item)
    elif isinstance(node, dict):
        if node.get("type", "").startswith("Action.") and isinstance(node.get("data"), dict):
            yield node["data"]
        for value in node.values():
            yield from _action_data(value)

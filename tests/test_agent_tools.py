"""Agents' tools end to end: canned answers (thread and message extension), tags, notes,
attachments both ways and typing indicators."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from sqlalchemy import func, insert, select

from bot import keys, teams_package
from bot.settings import Settings
from cards.actions import parse_action
from cards.canned import canned_list_card, first_words
from cards.request import request_card
from cards.tags import selected_tags
from dialogs.attachments import read_files
from dialogs.canned import fill, usable_shortcut, valid_name
from dialogs.commands import SETUP
from dialogs.extension import SEARCH_COMMAND
from dialogs.i18n import Texts
from dialogs.table import COMMANDS, OUTSIDE_ROOMS, WORDS
from dialogs.turn import Turn
from store.canned import Canned
from store.models import CannedAnswer, ChatState, Department
from tests import activities as act
from tests.card_gallery import REF, plain_chat
from tests.conftest import (
    Bridge,
    BridgeFactory,
    ManualClock,
    OpenChat,
    accept,
    open_chat,
    setup_room,
    view_of,
)
from tests.test_bridge import card_of, card_text, verbs

TEAMS_FILE = "application/vnd.microsoft.teams.file.download.info"


async def say(
    bridge: Bridge, who: act.Agent, text: str, *, thread: str | None = None, **extra: Any
) -> None:
    """``who`` writes in the room (at the root: to the bot; in a thread: without @mention)."""
    activity = act.room_message(
        bridge.service_url, who, text, thread=thread, mention_bot=thread is None
    )
    activity.update(extra)
    assert (await bridge.post(activity)).status == 201
    await bridge.settled()


def last_text(bridge: Bridge, conversation: str) -> str:
    return bridge.connector.texts(conversation)[-1]


def cards_in(bridge: Bridge, conversation: str) -> list[dict[str, Any]]:
    return [card_of(a) for a in bridge.connector.activities(conversation) if a.get("attachments")]


def facts(card: dict[str, Any]) -> dict[str, str]:
    return {
        f["title"]: f["value"] for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]
    }


async def transcript_html(bridge: Bridge, chat: OpenChat) -> str:
    url = bridge.app[keys.LINKS].url(chat.chat_id).removeprefix("http://bridge.test")
    page = await bridge.get(url)
    assert page.status == 200
    return await page.text()


async def chat_with_owner(
    bridge: Bridge, customer: str, owner: act.Agent, text: str = "Hello"
) -> OpenChat:
    chat = await open_chat(bridge, customer, text, name="Lan", locale="en-US")
    await accept(bridge, chat, owner)
    return chat


# -- canned answers ----------------------------------------------------------------------------


async def add_canned(bridge: Bridge, supervisor: act.Agent) -> None:
    for line in (
        "canned add thanks Thank you, {customer}! {agent} is glad to help.",
        "canned add thanks-vi Cảm ơn {customer} nhiều!",
        "canned add Hello Hello {customer}, I am {agent}. How can I help?",
    ):
        await say(bridge, supervisor, line)


async def test_supervisors_manage_canned_answers_and_others_are_refused(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    supervisor, agent = room.supervisor, act.agent(2, "Minh")
    await add_canned(bridge, supervisor)
    assert "/thanks** saved" in bridge.connector.texts(act.ROOM)[1]
    assert "/hello** saved" in last_text(bridge, act.ROOM)
    refusals = {
        (agent, "canned add promo 10% off"): "only a supervisor of **Support**",
        (supervisor, "canned add bad!name text"): r"**bad\!name** cannot be a shortcut",
        (supervisor, "canned add close Bye"): "**close** cannot be a shortcut",
        (supervisor, "canned add hello Again"): "**/hello** already exists",
        (supervisor, "canned add lonely"): "use **@SupportBot canned add <shortcut> <text>**",
        (supervisor, "canned remove nothing"): "no canned answer **/nothing**",
    }
    for (who, line), expected in refusals.items():
        await say(bridge, who, line)
        notice = bridge.connector.activities(act.ROOM)[-1]
        assert expected in notice["text"], (line, notice["text"])
        assert notice["entities"][0]["mentioned"]["id"] == who.id
    await say(bridge, supervisor, "canned remove thanks-vi")
    assert "**/thanks-vi** removed" in last_text(bridge, act.ROOM)
    await say(bridge, supervisor, "canned list")
    listed = card_text(cards_in(bridge, act.ROOM)[-1])
    assert "/hello" in listed and "/thanks" in listed and "/thanks-vi" not in listed
    # Outside a room there is nothing to manage.
    outside = act.room_message(bridge.service_url, supervisor, "canned add x Text")
    outside["conversation"]["id"] = outside["channelData"]["channel"]["id"] = "19:other@thread"
    assert (await bridge.post(outside)).status == 201
    await bridge.settled()
    assert "not a department's room" in last_text(bridge, "19:other@thread")


async def test_a_shortcut_named_like_a_command_is_refused_and_never_saved(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    supervisor = room.supervisor
    # Words the old hand-made copy of the command list missed: such answers were saved
    # and could never be sent (``/who`` runs the command).
    for word in ("who", "status", "timezone", "report", "console"):
        await say(bridge, supervisor, f"canned add {word} Hello {{customer}}")
        notice = bridge.connector.activities(act.ROOM)[-1]
        assert f"**{word}** cannot be a shortcut: **/{word}** is a command" in notice["text"]
        assert notice["entities"][0]["mentioned"]["id"] == supervisor.id
    async with bridge.app[keys.ENGINE].begin() as connection:
        saved = await connection.scalar(select(func.count()).select_from(CannedAnswer))
        assert saved == 0
        # One saved before the fix can still be removed.
        await connection.execute(
            insert(CannedAnswer).values(
                department_id=await connection.scalar(select(Department.id)),
                shortcut="who",
                text="Unreachable",
                created_at=bridge.app[keys.STORE].clock(),
            )
        )
    await say(bridge, supervisor, "canned remove who")
    assert "canned answer **/who** removed" in last_text(bridge, act.ROOM)


async def test_canned_answers_listed_filtered_and_sent_with_names(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    await add_canned(bridge, room.supervisor)
    owner, stranger = act.agent(2, "Minh"), act.agent(3, "Long")
    chat = await chat_with_owner(bridge, "cust-canned", owner)
    # "/" alone: every answer, shortcut and first words, in the thread.
    await say(bridge, owner, "/", thread=chat.thread)
    listed = cards_in(bridge, chat.thread)[-1]
    assert listed["version"] == "1.5"
    facts = {f["title"]: f["value"] for f in listed["body"][1]["facts"]}
    assert set(facts) == {"/hello", "/thanks", "/thanks-vi"}
    assert facts["/thanks"].startswith("Thank you, {customer}!")
    # "/<prefix>": the matches only.
    await say(bridge, owner, "/THAN", thread=chat.thread)
    facts = {f["title"] for f in cards_in(bridge, chat.thread)[-1]["body"][1]["facts"]}
    assert facts == {"/thanks", "/thanks-vi"}
    # "/<shortcut>": the full text, names filled, to the customer and shown in the thread.
    await say(bridge, owner, "/hello", thread=chat.thread)
    sent = "Hello Lan, I am Minh. How can I help?"
    assert last_text(bridge, chat.conversation) == sent
    assert last_text(bridge, chat.thread) == f"**Minh** sent /hello: {sent}"
    # Someone who does not take part cannot send one; nothing matches: said so.
    before = bridge.connector.texts(chat.conversation)
    await say(bridge, stranger, "/thanks", thread=chat.thread)
    assert bridge.connector.texts(chat.conversation) == before
    assert "only the chat's participants are relayed" in last_text(bridge, chat.thread)
    await say(bridge, owner, "/zzz", thread=chat.thread)
    assert "**/zzz** is neither a command nor a canned answer" in last_text(bridge, chat.thread)
    # The transcript has the answer as sent.
    assert sent in await transcript_html(bridge, chat)
    # A thread that is not a chat's has no customer to send to.
    other = f"{act.ROOM};messageid=999"
    await say(bridge, owner, "/hello", thread=other)
    assert "this thread is not a customer chat" in last_text(bridge, other)


async def test_company_wide_answers_are_listed_and_a_department_one_wins(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    await add_canned(bridge, room.supervisor)
    async with bridge.app[keys.ENGINE].begin() as connection:
        for shortcut, text in (("hours", "We are open 8-17."), ("hello", "Company hello")):
            await connection.execute(
                insert(CannedAnswer).values(
                    department_id=None,
                    shortcut=shortcut,
                    text=text,
                    created_at=bridge.app[keys.STORE].clock(),
                )
            )
    owner = act.agent(2, "Minh")
    chat = await chat_with_owner(bridge, "cust-company", owner)
    await say(bridge, owner, "/h", thread=chat.thread)
    facts = {f["title"]: f["value"] for f in cards_in(bridge, chat.thread)[-1]["body"][1]["facts"]}
    assert facts["/hours"] == "We are open 8-17. (company-wide)"
    assert facts["/hello"].startswith("Hello {customer}")


def extension_query(bridge: Bridge, who: act.Agent, query: str | None, **where: Any) -> dict:
    activity = act.room_message(bridge.service_url, who, "", mention_bot=False, **where)
    activity.pop("text")
    activity["type"] = "invoke"
    activity["name"] = "composeExtension/query"
    parameters = (
        [{"name": "initialRun", "value": "true"}]
        if query is None
        else [{"name": "query", "value": query}]
    )
    activity["value"] = {
        "commandId": "searchCanned",
        "parameters": parameters,
        "queryOptions": {"skip": 0, "count": 25},
    }
    return activity


async def search(bridge: Bridge, who: act.Agent, query: str | None, **where: Any) -> list[dict]:
    response = await bridge.post(extension_query(bridge, who, query, **where))
    assert response.status == 200
    result = (await response.json())["composeExtension"]
    assert result["type"] == "result" and result["attachmentLayout"] == "list"
    for attachment in result["attachments"]:
        assert attachment["preview"]["contentType"] == "application/vnd.microsoft.card.thumbnail"
    return result["attachments"]


async def test_message_extension_searches_by_shortcut_and_text(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    await add_canned(bridge, room.supervisor)
    agent = act.agent(2, "Minh")
    everything = await search(bridge, agent, None)
    assert [a["content"]["title"] for a in everything] == ["/hello", "/thanks", "/thanks-vi"]
    by_shortcut = await search(bridge, agent, "than")
    assert [a["content"]["title"] for a in by_shortcut] == ["/thanks", "/thanks-vi"]
    by_text = await search(bridge, agent, "glad")
    assert [a["content"]["title"] for a in by_text] == ["/thanks"]
    assert by_text[0]["content"]["text"] == "Thank you, ! Minh is glad to help."
    assert await search(bridge, agent, "nothing like it") == []
    # In a chat's thread the customer's name is filled in as well.
    chat = await chat_with_owner(bridge, "cust-ext", agent)
    [hello] = await search(bridge, agent, "/hello", thread=chat.thread)
    assert hello["content"]["text"] == "Hello Lan, I am Minh. How can I help?"
    assert hello["preview"]["content"]["title"] == "/hello"
    # A command the manifest does not declare is refused with the reason.
    unknown = extension_query(bridge, agent, "x")
    unknown["value"]["commandId"] = "createTicket"
    refused = await bridge.post(unknown)
    assert refused.status == 400 and "createTicket" in (await refused.json())["error"]


def test_the_teams_manifest_declares_the_search() -> None:
    settings = Settings(
        app_id="0c6a3b2e-1234-4abc-9def-0123456789ab", public_url="https://support.example"
    )
    manifest = teams_package.manifest(settings)
    [extension] = manifest["composeExtensions"]
    [command] = extension["commands"]
    assert extension["botId"] == manifest["bots"][0]["botId"]
    assert command["type"] == "query" and command["initialRun"] is True
    assert [p["name"] for p in command["parameters"]] == ["query"]
    assert command["id"] == SEARCH_COMMAND


# -- tags --------------------------------------------------------------------------------------


async def test_tags_by_command_and_card_and_required_before_close(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    supervisor, owner, stranger = room.supervisor, act.agent(2, "Minh"), act.agent(3, "Long")
    await say(bridge, supervisor, "tags add Billing shipping refund")
    assert "tags added: billing, shipping, refund" in last_text(bridge, act.ROOM)
    await say(bridge, owner, "tags add other")
    assert "only a supervisor" in last_text(bridge, act.ROOM)
    await say(bridge, supervisor, "tags add no#pe")
    assert "**no#pe** cannot be a tag" in last_text(bridge, act.ROOM)
    await say(bridge, supervisor, "tags require on")
    assert "need at least one tag" in last_text(bridge, act.ROOM)
    await say(bridge, supervisor, "tags list")
    assert "billing, refund, shipping. Chats need a tag" in last_text(bridge, act.ROOM)
    chat = await chat_with_owner(bridge, "cust-tags", owner)
    # The owner's own view of the accepted card offers the department's tags, with Tag
    # in the "..." menu; the card everyone shares offers nothing to act on.
    shared = card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])
    assert verbs(shared) == [] and "Input.ChoiceSet" not in json.dumps(shared)
    card = await view_of(bridge, chat, owner)
    assert verbs(card) == ["close", "transfer", "invite", "tag"]
    assert card["actions"][-1]["mode"] == "secondary"
    [choices] = [e for e in card["body"] if e["type"] == "Input.ChoiceSet"]
    assert choices["isMultiSelect"] and [c["value"] for c in choices["choices"]] == [
        "billing",
        "refund",
        "shipping",
    ]
    # Closing without a tag is refused, with the reason.
    await say(bridge, owner, "/close", thread=chat.thread)
    assert "needs a tag before it can be closed" in last_text(bridge, chat.thread)
    assert "ended" not in " ".join(bridge.connector.texts(chat.conversation))
    # Unknown tags are refused with the known ones; known ones are added.
    await say(bridge, owner, "/tag vip", thread=chat.thread)
    assert "unknown tag: vip. Known tags: billing, refund, shipping" in last_text(
        bridge, chat.thread
    )
    posts = len(bridge.connector.activities(chat.thread))
    await say(bridge, owner, "/tag billing", thread=chat.thread)
    # The card shows the tag; the thread gets no notice for it.
    assert len(bridge.connector.activities(chat.thread)) == posts
    assert facts(card_of(bridge.connector.updates(chat.thread)[-1]))["Tags"] == "billing"
    # The card's Tag action sets exactly the selection; a stranger may not.
    data = {"action": "tag", "chat": chat.chat_id, "tags": "refund,shipping"}
    refused = await bridge.post(
        act.invoke_action(bridge.service_url, stranger, chat.thread, "tag", data)
    )
    assert "only the chat's participants or a supervisor" in card_text(
        (await refused.json())["value"]
    )
    pressed = await bridge.post(
        act.invoke_action(bridge.service_url, owner, chat.thread, "tag", data)
    )
    answer = (await pressed.json())["value"]
    assert facts(answer)["Tags"] == "refund, shipping"
    await say(bridge, owner, "/untag refund", thread=chat.thread)
    assert facts(card_of(bridge.connector.updates(chat.thread)[-1]))["Tags"] == "shipping"
    # Tagged: the close goes through; the summary and the transcript show the tags.
    await say(bridge, owner, "/close", thread=chat.thread)
    summary = card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])
    assert card_text(summary).startswith("Closed") and facts(summary)["Tags"] == "shipping"
    assert "<dt>Tags</dt><dd>shipping</dd>" in await transcript_html(bridge, chat)


async def test_tag_submit_fallback_and_require_off(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    owner = act.agent(2, "Minh")
    await say(bridge, room.supervisor, "tags add billing")
    await say(bridge, room.supervisor, "tags require on")
    await say(bridge, room.supervisor, "tags require off")
    chat = await chat_with_owner(bridge, "cust-tag-submit", owner)
    value = {"action": "tag", "chat": chat.chat_id, "tags": "billing"}
    await say(bridge, owner, "", thread=chat.thread, value=value)
    assert facts(card_of(bridge.connector.updates(chat.thread)[-1]))["Tags"] == "billing"
    await say(bridge, room.supervisor, "tags remove billing")
    await say(bridge, owner, "/close", thread=chat.thread)
    assert "ended" in last_text(bridge, chat.conversation)


# -- notes -------------------------------------------------------------------------------------


async def test_notes_stay_internal_and_reach_the_transcript(bridge: Bridge) -> None:
    await setup_room(bridge)
    owner, colleague = act.agent(2, "Minh"), act.agent(3, "Long")
    chat = await chat_with_owner(bridge, "cust-notes", owner)
    to_customer = len(bridge.connector.activities(chat.conversation))
    in_thread = len(bridge.connector.activities(chat.thread))
    note = act.reply(bridge.service_url, owner, chat.thread, "// VIP customer, be quick")
    for _ in range(2):  # a re-delivery is kept once
        assert (await bridge.post(note)).status == 201
    # The department's supervisor may add one too; a colleague outside the chat may not.
    await say(bridge, act.agent(1), "/note refund approved by finance", thread=chat.thread)
    await say(bridge, colleague, "/note I was here", thread=chat.thread)
    await say(bridge, owner, "Your refund is on its way", thread=chat.thread)
    assert bridge.connector.texts(chat.conversation)[to_customer:] == ["Your refund is on its way"]
    assert len(bridge.connector.activities(chat.thread)) == in_thread + 1
    refusal = bridge.connector.texts(chat.thread)[-1]
    assert "only the chat's participants and the department's supervisors" in refusal
    html = await transcript_html(bridge, chat)
    for text in ("VIP customer, be quick", "refund approved by finance"):
        assert html.count(text) == 1
        assert re.search(rf'<li class="note">.*?Internal note · .*?{text}', html), html
    assert "//" not in html and "I was here" not in html


# -- attachments -------------------------------------------------------------------------------


async def test_attachments_reach_both_sides_and_refusals_are_explained(bridge: Bridge) -> None:
    await setup_room(bridge)
    owner = act.agent(2, "Minh")
    chat = await chat_with_owner(bridge, "cust-files", owner)
    files = [
        {"contentType": "image/png", "contentUrl": "https://files.test/cat.png", "name": "cat.png"},
        {"contentType": "application/pdf", "contentUrl": "https://files.test/bill.pdf"},
        {"contentType": "image/png", "contentUrl": "data:image/png;base64,AAAA", "name": "i.png"},
        {"contentType": "text/plain", "contentUrl": "https://x.test/" + "a" * 3000, "name": "big"},
    ]
    customer = act.webchat_message(
        bridge.service_url, "cust-files", "", name="Lan", locale="en-US", attachments=files
    )
    assert (await bridge.post(customer)).status == 201
    await bridge.settled()
    shown = bridge.connector.activities(chat.thread)[-1]
    assert shown["text"] == (
        "**Lan** sent: 📎 [cat.png](https://files.test/cat.png) "
        "📎 [bill.pdf](https://files.test/bill.pdf)"
    )
    assert shown["attachments"] == [
        {"contentType": "image/png", "contentUrl": "https://files.test/cat.png", "name": "cat.png"}
    ]
    assert "could not pass on: i.png, big" in last_text(bridge, chat.conversation)
    # A file the agent attached in Teams reaches the customer as a link; a pasted picture
    # does not, and the agent is told why.
    download = "https://tenant.sharepoint.test/download/form.docx?token=t1"
    agent_files = [
        {"contentType": "text/html", "content": "<p>Here is the form</p>"},
        {
            "contentType": TEAMS_FILE,
            "contentUrl": "https://tenant.sharepoint.test/form.docx",
            "name": "form.docx",
            "content": {"downloadUrl": download, "uniqueId": "f1", "fileType": "docx"},
        },
        {"contentType": "image/png", "contentUrl": "https://smba.test/v3/attachments/p/pasted.png"},
    ]
    await say(bridge, owner, "Here is the form", thread=chat.thread, attachments=agent_files)
    relayed = bridge.connector.activities(chat.conversation)[-1]
    assert relayed["text"] == "Here is the form"
    [sent] = relayed["attachments"]
    assert sent["contentUrl"] == download and sent["name"] == "form.docx"
    assert sent["contentType"].endswith("wordprocessingml.document")
    notice = bridge.connector.activities(chat.thread)[-1]
    assert "not sent to the customer: pasted.png" in notice["text"]
    assert notice["entities"][0]["mentioned"]["id"] == owner.id
    # Only unsupported content: nothing relayed, the writer is told.
    before = len(bridge.connector.activities(chat.conversation))
    pasted = agent_files[2:]
    await say(bridge, owner, "", thread=chat.thread, attachments=pasted)
    assert len(bridge.connector.activities(chat.conversation)) == before
    assert "not sent to the customer: pasted.png" in last_text(bridge, chat.thread)
    html = await transcript_html(bridge, chat)
    # Pictures and other files are links (the page loads nothing from the files' hosts).
    assert 'href="https://files.test/cat.png"' in html and "🖼 cat.png</a>" in html
    assert f'href="{download}"' in html and "📎 form.docx</a>" in html and "<img" not in html


async def test_a_first_message_with_only_a_file_opens_a_chat(bridge: Bridge) -> None:
    await setup_room(bridge)
    photo = {"contentType": "image/jpeg", "contentUrl": "https://f.test/p.jpg", "name": "p.jpg"}
    chat = await open_chat(bridge, "cust-photo", "", locale="en-US", attachments=[photo])
    assert "📎 p.jpg" in card_text(card_of(bridge.connector.activities(chat.thread)[0]))
    assert "[p.jpg](https://f.test/p.jpg)" in last_text(bridge, chat.thread)


# -- typing ------------------------------------------------------------------------------------


def typings(bridge: Bridge, conversation: str) -> int:
    return sum(a.get("type") == "typing" for a in bridge.connector.activities(conversation))


async def test_typing_is_passed_on_both_ways_at_most_once_per_interval(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    bridge = await start_bridge(clock)
    await setup_room(bridge)
    owner, stranger = act.agent(2, "Minh"), act.agent(3, "Long")
    customer_typing = act.webchat_message(bridge.service_url, "cust-typing", "", locale="en-US")
    customer_typing["type"] = "typing"
    customer_typing.pop("text")
    assert (await bridge.post(customer_typing)).status == 201  # no chat yet: dropped
    chat = await chat_with_owner(bridge, "cust-typing", owner)
    for _ in range(3):
        assert (await bridge.post({**customer_typing, "id": act.next_id()})).status == 201
    await bridge.settled()
    assert typings(bridge, chat.thread) == 1
    clock.advance(6)
    assert (await bridge.post({**customer_typing, "id": act.next_id()})).status == 201
    await bridge.settled()
    assert typings(bridge, chat.thread) == 2

    def agent_typing(who: act.Agent) -> dict[str, Any]:
        activity = act.room_message(bridge.service_url, who, "", thread=chat.thread)
        activity["type"] = "typing"
        activity.pop("text")
        activity.pop("entities")
        return activity

    for who in (stranger, owner, owner):
        assert (await bridge.post(agent_typing(who))).status == 201
    await bridge.settled()
    assert typings(bridge, chat.conversation) == 1
    clock.advance(6)
    assert (await bridge.post(agent_typing(owner))).status == 201
    await bridge.settled()
    assert typings(bridge, chat.conversation) == 2


# -- pure parts --------------------------------------------------------------------------------


def test_an_active_card_offers_the_department_tags_with_the_chat_s_selected() -> None:
    chat = plain_chat(ChatState.ACTIVE, tags=("billing",), department_tags=("billing", "refund"))
    # The owner's view (the shared card has no tagging: others may not tag).
    card = json.loads(json.dumps(request_card(chat, Texts("en"), viewer="29:minh")))
    assert card["version"] == "1.5"
    [choices] = [e for e in card["body"] if e["type"] == "Input.ChoiceSet"]
    assert choices == {
        "type": "Input.ChoiceSet",
        "id": "tags",
        "isMultiSelect": True,
        "style": "compact",
        "label": "Tags",
        "placeholder": "Choose tags",
        "value": "billing",
        "choices": [
            {"title": "billing", "value": "billing"},
            {"title": "refund", "value": "refund"},
        ],
    }
    tag = card["actions"][-1]
    assert tag["verb"] == "tag" and tag["data"] == {"action": "tag", "chat": REF}
    assert tag["fallback"] == {"type": "Action.Submit", "title": "Tag", "data": tag["data"]}
    assert tag["mode"] == "secondary"
    closed = request_card(replace(chat, state=ChatState.CLOSED), Texts("en"))
    assert "Input.ChoiceSet" not in json.dumps(closed) and "billing" in json.dumps(closed)


def test_the_tag_action_reads_the_selection_from_execute_and_submit() -> None:
    data = {
        "action": "tag",
        "chat": "chat-ref-0000000005",
        "v": 2,  # a card sent before buttons stopped carrying a version: ignored
        "tags": "Billing, refund,,billing",
    }
    invoke = {"type": "invoke", "value": {"action": {"verb": "tag", "data": data}}}
    submit = {"type": "message", "value": data}
    pressed, submitted = Turn.of(invoke).card, Turn.of(submit).card
    assert selected_tags(pressed) == selected_tags(submitted) == ("billing", "refund")
    assert parse_action(pressed).verb == "tag"
    bare = {"type": "message", "value": {"action": "tag", "chat": "chat-ref-0000000005"}}
    assert selected_tags(Turn.of(bare).card) == ()


def test_the_command_words_are_said_once() -> None:
    """The command words are the table's (and ``setup``, run by the bridge itself); none
    of them can be a canned answer's shortcut (the check reads the same table)."""
    assert frozenset(COMMANDS) | {SETUP} == WORDS
    assert OUTSIDE_ROOMS <= WORDS
    assert {"who", "tag", "untag", "online", "invite", SETUP} <= WORDS
    assert not any(usable_shortcut(word) for word in WORDS)
    assert all(valid_name(word) for word in WORDS)  # refused as commands, not as bad names
    assert usable_shortcut("thanks")


def test_handlers_read_their_word_from_the_turn() -> None:
    """One signature for every handler: the word and argument come with the turn, and
    ``@Bot word`` is a command exactly for the table's words."""
    message = {
        "type": "message",
        "text": "<at>Bot</at> untag billing",
        "recipient": {"id": "bot", "name": "Bot"},
        "entities": [{"type": "mention", "text": "<at>Bot</at>", "mentioned": {"id": "bot"}}],
    }
    turn = Turn.of(message, known=WORDS)
    assert turn.command is not None and (turn.word, turn.argument) == ("untag", "billing")
    assert COMMANDS[turn.word] is COMMANDS["tag"]
    plain = Turn.of({**message, "text": "<at>Bot</at> thanks a lot"}, known=WORDS)
    assert plain.command is None and plain.addressed


def test_canned_texts_names_and_lists() -> None:
    assert fill("Hi {customer}, {agent} here {ok}", customer="Lan", agent="Minh") == (
        "Hi Lan, Minh here {ok}"
    )
    assert all(valid_name(n) for n in ("thanks", "thanks-vi", "a_1"))
    assert not any(valid_name(n) for n in ("", "bad!", "Á", "x" * 33, "two words"))
    assert first_words("word " * 40).endswith("…") and len(first_words("word " * 40)) <= 80
    answers = tuple(Canned(f"s{n}", f"text {n}", n == 0) for n in range(52))
    card = json.loads(json.dumps(canned_list_card("Title", answers, Texts("en"))))
    assert card["version"] == "1.5" and len(card["body"][1]["facts"]) == 50
    assert card["body"][1]["facts"][0] == {"title": "/s0", "value": "text 0 (company-wide)"}
    assert "2 more" in card["body"][2]["text"]


def test_files_are_sorted_into_passed_on_and_refused() -> None:
    activity = {
        "attachments": [
            {"contentType": "text/html", "content": "<p>hi</p>"},
            {"contentType": "image/png", "contentUrl": "https://f.test/a%20b.png"},
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": {}},
            {"contentType": "image/png", "contentUrl": "https://f.test/c.png", "name": "c.png"},
        ]
    }
    web = read_files(activity, from_teams=False, limit=1)
    assert web.passed == (
        {"name": "a b.png", "url": "https://f.test/a%20b.png", "contentType": "image/png"},
    )
    assert web.refused == ("file", "c.png")
    teams = read_files(activity, from_teams=True, limit=10)
    assert teams.passed == () and teams.refused == ("a b.png", "file", "c.png")

"""A company bot answers first: a chat's conversation with it, and its hand-over to people.

A new chat of a department whose ``first_bot`` is on is *held* (no card in the room yet)
and gets a ``first_bot_chats`` row in state ``talking``; its customer's lines go to the
bot over Direct Line (``bot/firstbot.py``) and the bot's answers back to the customer.
Its ``announce_at`` is the bot's deadline: set when a customer's line goes to the bot,
cleared when the bot answers, so the timers' next due (``routing.next_unanswered``)
fires a silent bot's chat like any held chat: its card is posted and it is routed.
The hand-over is one conditional UPDATE (``state = 'talking'`` in its WHERE): whichever
comes first (the bot's ``handoff.initiate``, the customer asking for a person, the
deadline) wins once, across replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.sql.elements import ColumnElement

from store import targets
from store.models import Chat, ChatState, Department, FirstBotChat, Message, MessageKind
from store.unit import Unit

TALKING = "talking"
HANDED = "handed"
# The context a Copilot Studio handoff carries, as the card shows it.
CONTEXT_KEYS = ("va_AgentMessage", "va_LastTopic", "va_LastPhrases", "va_Language")
# Why the chat went to people.
HANDOFF, ASKED, TIMEOUT = "handoff", "asked", "timeout"


@dataclass(frozen=True)
class BotChat:
    """A chat the bot answers: its Direct Line conversation once started."""

    chat_id: int
    conversation_id: str | None
    token: str | None
    watermark: str | None
    state: str


def answers_first(tx: Unit, department: Department) -> bool:
    """Whether the company's bot answers the department's new chats first: switched on
    for it, and a bot configured (people's response targets start at the hand-over)."""
    return department.first_bot and tx.policy.first_bot_timeout is not None


async def do_start(tx: Unit, chat: Chat, department: Department) -> bool:
    """A new chat of ``department`` goes to the company's bot first, when the department
    has it on and the bridge has a bot (``policy.first_bot_timeout``): held with the
    bot's deadline, and a conversation row in ``talking``. False: people take it."""
    timeout = tx.policy.first_bot_timeout
    if timeout is None or not answers_first(tx, department):
        return False
    chat.held = True
    chat.announce_at = tx.now + timeout
    tx.timer(chat.announce_at)
    tx.session.add(FirstBotChat(chat_id=chat.id, state=TALKING, created_at=tx.now))
    return True


async def talking(tx: Unit, chat_id: int) -> BotChat | None:
    """The chat's conversation with the bot, while the bot still answers it."""
    row = await tx.session.scalar(
        select(FirstBotChat).where(FirstBotChat.chat_id == chat_id, FirstBotChat.state == TALKING)
    )
    if row is None:
        return None
    return BotChat(row.chat_id, row.conversation_id, row.token, row.watermark, row.state)


async def conversation_of(tx: Unit, chat_id: int) -> BotChat | None:
    """The chat's conversation with the bot in any state (events after the hand-over)."""
    row = await tx.session.get(FirstBotChat, chat_id)
    if row is None:
        return None
    return BotChat(row.chat_id, row.conversation_id, row.token, row.watermark, row.state)


async def do_renew_token(tx: Unit, chat_id: int, token: str) -> None:
    """The conversation's new token (the old one ran out); whoever renews last keeps its
    own, and either reaches the same conversation."""
    await tx.session.execute(
        update(FirstBotChat)
        .where(FirstBotChat.chat_id == chat_id)
        .values(token=token)
        .execution_options(synchronize_session=False)
    )


async def do_relayed(tx: Unit, chat_id: int) -> bool:
    """A customer's line went to the bot: its deadline starts, unless one already runs
    (the bot owes an answer to an earlier line). False: the bot no longer has the chat."""
    done = await tx.session.execute(
        update(Chat)
        .where(
            Chat.id == chat_id,
            Chat.state == ChatState.WAITING,
            Chat.held.is_(True),
            Chat.announce_at.is_(None),
        )
        .values(announce_at=tx.now + _timeout(tx))
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 1:
        tx.timer(tx.now + _timeout(tx))
    return await talking(tx, chat_id) is not None


def _timeout(tx: Unit) -> Any:
    timeout = tx.policy.first_bot_timeout
    assert timeout is not None, "a bot chat exists only while the bridge has a bot"
    return timeout


async def do_start_conversation(tx: Unit, chat_id: int, conversation_id: str, token: str) -> bool:
    """The bot's Direct Line conversation for the chat, kept (the first one started wins:
    two lines relayed at once start one conversation each, and only one is kept)."""
    done = await tx.session.execute(
        update(FirstBotChat)
        .where(FirstBotChat.chat_id == chat_id, FirstBotChat.conversation_id.is_(None))
        .values(conversation_id=conversation_id, token=token)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


async def _while_talking(
    tx: Unit, chat_id: int, values: dict[str, Any], *also: ColumnElement[bool]
) -> bool:
    """Change the chat's conversation with the bot only while the bot has the chat."""
    done = await tx.session.execute(
        update(FirstBotChat)
        .where(FirstBotChat.chat_id == chat_id, FirstBotChat.state == TALKING, *also)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1


async def do_bot_said(tx: Unit, chat_id: int, watermark: str | None, lines: list[str]) -> bool:
    """The bot answered: its lines kept in the transcript (its own kind, apart from the
    agents'), how far its activities were read, and its deadline cleared. False: the
    chat was handed over meanwhile (nothing is kept; the answer is not sent)."""
    if not await _while_talking(tx, chat_id, {"watermark": watermark}):
        return False
    if lines:
        for line in lines:
            tx.note(chat_id, MessageKind.FIRST_BOT, "", line)
        await tx.session.execute(
            update(Chat)
            .where(Chat.id == chat_id, Chat.held.is_(True), Chat.state == ChatState.WAITING)
            .values(announce_at=None)
            .execution_options(synchronize_session=False)
        )
    return True


async def do_hand_over(tx: Unit, chat_id: int, reason: str, context: dict[str, Any]) -> bool:
    """The bot lets the chat go (its ``handoff.initiate``, the customer asked for a
    person, or its deadline passed: ``TIMEOUT``, only while the deadline is still due, as
    an answer clears it): the conversation leaves ``talking`` (once: the UPDATE's WHERE),
    the chat keeps what the bot knew for its card, and it is due now, so it is posted and
    routed. False: it was handed over already (or the bot answered in time)."""
    due = (
        [exists().where(Chat.id == chat_id, Chat.announce_at <= tx.now)]
        if reason == TIMEOUT
        else []
    )
    if not await _while_talking(tx, chat_id, {"state": HANDED}, *due):
        return False
    kept = {key: context[key] for key in CONTEXT_KEYS if context.get(key) is not None}
    await tx.session.execute(
        update(Chat)
        .where(Chat.id == chat_id)
        .values(bot_context={**kept, "reason": reason}, announce_at=tx.now)
        .execution_options(synchronize_session=False)
    )
    tx.timer(tx.now)
    department_id = await tx.session.scalar(select(Chat.department_id).where(Chat.id == chat_id))
    if department_id is not None:
        # People are waited for from now: the first answer's target starts here.
        await targets.restart_first(tx, chat_id, department_id, since=tx.now)
    return True


async def bot_lines(tx: Unit, chat_id: int) -> list[tuple[bool, str]]:
    """The bot's part of the chat so far, oldest first, as (the bot's line, text): the
    customer's lines and the bot's own (read at the hand-over, before people answer)."""
    rows = await tx.session.execute(
        select(Message.kind, Message.text)
        .where(
            Message.chat_id == chat_id,
            Message.kind.in_([MessageKind.INCOMING, MessageKind.FIRST_BOT]),
        )
        .order_by(Message.id)
    )
    return [(kind == MessageKind.FIRST_BOT, text) for kind, text in rows if text]

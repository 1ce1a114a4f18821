"""A company bot answers first: the bridge as a Direct Line *client* of that bot.

Copilot Studio, or any Bot Framework bot with a Direct Line channel: the bridge gets a
token with the secret (``tokens/generate``), starts one conversation per chat, posts the
customer's lines as ``message`` activities and reads the bot's by polling
``conversations/{id}/activities?watermark=`` with back-off (quick after a line, slower
while the bot is quiet, never when no bot conversation is open in this process). The
bot's messages go to the customer through the outbox; its ``handoff.initiate`` event (or
the customer asking for a person, or its silence past ``FIRST_BOT_TIMEOUT_SECONDS``)
hands the chat to people (``dialogs/routing.hand_over``). ``handoff.status`` events go
back through the outbox (``deliver``), so a failure is retried and nothing is lost.

The customer is named to the bot by a hash of their id (never their channel id).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from aiohttp import ClientError, ClientSession

from bot.sdk import DeliveryError
from bot.timers import first_of
from dialogs import firstbot as flows
from dialogs.context import FlowContext
from dialogs.routing import hand_over
from store import firstbot
from store.models import OutboxItem
from store.vocabulary import BotEvent, read_payload

log = logging.getLogger(__name__)

# The first pause between two reads of the bot's activities after a line (doubles while
# the bot is quiet, up to ``FIRST_BOT`` poll maximum).
FIRST_PAUSE = 0.25
REFUSED = 422
# What Direct Line answers a token that ran out.
EXPIRED = (401, 403)


class DirectLine:
    """The Direct Line 3.0 API as a client uses it (``endpoint``: its base URL, up to
    ``/v3/directline``)."""

    def __init__(self, session: ClientSession, endpoint: str, secret: str) -> None:
        self._session = session
        self._endpoint = endpoint.rstrip("/")
        self._secret = secret

    async def _call(
        self, method: str, path: str, bearer: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {bearer}"}
        async with self._session.request(
            method, f"{self._endpoint}{path}", json=body, headers=headers
        ) as answer:
            if answer.status >= 400:
                retry = answer.headers.get("Retry-After")
                raise DeliveryError(
                    answer.status,
                    f"Direct Line {method} {path.split('?')[0]}: {answer.status}",
                    float(retry) if retry and retry.isdigit() else None,
                )
            if answer.status == 204 or answer.content_length == 0:
                return {}
            found = await answer.json(content_type=None)
            return found if isinstance(found, dict) else {}

    async def token(self) -> str:
        """A conversation token made with the secret (the secret never goes further). A
        server with no token service (a local Direct Line, 404) takes the secret itself,
        as Direct Line allows."""
        try:
            made = await self._call("POST", "/tokens/generate", self._secret)
        except DeliveryError as failed:
            if failed.status != 404:
                raise
            return self._secret
        return str(made.get("token") or self._secret)

    async def start(self) -> tuple[str, str]:
        """A new conversation with the bot: its id and the token that reaches it."""
        token = await self.token()
        started = await self._call("POST", "/conversations", token)
        return str(started["conversationId"]), str(started.get("token") or token)

    async def reconnect(self, conversation_id: str) -> str:
        """A new token for a conversation whose token ran out (Direct Line's tokens live
        30 minutes): the secret asks for the conversation again."""
        found = await self._call("GET", f"/conversations/{conversation_id}", self._secret)
        return str(found.get("token") or self._secret)

    async def post(self, conversation_id: str, token: str, activity: dict[str, Any]) -> None:
        await self._call("POST", f"/conversations/{conversation_id}/activities", token, activity)

    async def read(
        self, conversation_id: str, token: str, watermark: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The activities after ``watermark``, and the new watermark."""
        query = f"?watermark={watermark}" if watermark else ""
        found = await self._call(
            "GET", f"/conversations/{conversation_id}/activities{query}", token
        )
        activities = [a for a in found.get("activities") or [] if isinstance(a, dict)]
        mark = found.get("watermark")
        return activities, str(mark) if mark is not None else watermark


def customer_id(chat_id: int) -> str:
    """How the bot knows a chat's customer: stable, and telling it nothing."""
    return "customer-" + hashlib.sha256(f"first-bot:{chat_id}".encode()).hexdigest()[:24]


class FirstBot:
    """The bot that answers first, as the flows and the dispatcher use it."""

    def __init__(
        self, ctx: FlowContext, client: DirectLine, poll_max: float, quiet_stop: float
    ) -> None:
        """``poll_max``: the longest pause between two reads; ``quiet_stop``: reading stops
        after this long with neither a line nor an answer."""
        self._ctx = ctx
        self._client = client
        self._poll_max = poll_max
        self._quiet_stop = quiet_stop
        self._tasks: set[asyncio.Task[None]] = set()
        # Chats whose activities this process reads now, and the event that hurries it.
        self._polling: dict[int, asyncio.Event] = {}
        # A chat's lines reach the bot one after the other, in order: (lock, lines queued).
        self._in_order: dict[int, tuple[asyncio.Lock, list[None]]] = {}

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def relay(self, chat_id: int, text: str, locale: str) -> None:
        """Hand a customer's line to the bot, after the caller's commit."""
        self._spawn(self._relay(chat_id, text, locale))

    async def _conversation(self, chat_id: int) -> firstbot.BotChat | None:
        async with self._ctx.store.reading() as tx:
            chat = await firstbot.talking(tx, chat_id)
        if chat is None or chat.conversation_id is not None:
            return chat
        conversation_id, token = await self._client.start()
        async with self._ctx.store.unit() as tx:
            await firstbot.do_start_conversation(tx, chat_id, conversation_id, token)
            # Two lines at once start two; the one kept is read back.
            return await firstbot.talking(tx, chat_id)

    async def _relay(self, chat_id: int, text: str, locale: str) -> None:
        lock, queued = self._in_order.setdefault(chat_id, (asyncio.Lock(), []))
        queued.append(None)
        try:
            async with lock:
                await self._relay_now(chat_id, text, locale)
        finally:
            queued.pop()
            if not queued:
                del self._in_order[chat_id]

    async def _relay_now(self, chat_id: int, text: str, locale: str) -> None:
        try:
            chat = await self._conversation(chat_id)
            if chat is None or chat.conversation_id is None or chat.token is None:
                return
            if text:
                said = {
                    "type": "message",
                    "from": {"id": customer_id(chat_id), "role": "user"},
                    "text": text,
                    "locale": locale,
                }
                chat = await self._post(chat, said)
            self._read(chat)
        except (DeliveryError, ClientError, TimeoutError, KeyError):
            # The deadline still runs: a bot that cannot be reached hands the chat over.
            log.warning("a line for the first bot of chat %s was not delivered", chat_id)
        except Exception:
            log.exception("relaying to the first bot failed (chat %s)", chat_id)

    async def _post(self, chat: firstbot.BotChat, activity: dict[str, Any]) -> firstbot.BotChat:
        """Post to the bot's conversation; a token that ran out is renewed once (and kept).
        The chat as it is now (its token)."""
        assert chat.conversation_id is not None and chat.token is not None
        try:
            await self._client.post(chat.conversation_id, chat.token, activity)
            return chat
        except DeliveryError as refused:
            if refused.status not in EXPIRED:
                raise
        chat = await self._renew(chat)
        assert chat.conversation_id is not None and chat.token is not None
        await self._client.post(chat.conversation_id, chat.token, activity)
        return chat

    async def _renew(self, chat: firstbot.BotChat) -> firstbot.BotChat:
        assert chat.conversation_id is not None
        token = await self._client.reconnect(chat.conversation_id)
        async with self._ctx.store.unit() as tx:
            await firstbot.do_renew_token(tx, chat.chat_id, token)
        return replace(chat, token=token)

    def _read(self, chat: firstbot.BotChat) -> None:
        """Read the bot's answers now: a reader of this chat hurries, or one starts."""
        hurry = self._polling.get(chat.chat_id)
        if hurry is not None:
            hurry.set()
            return
        hurry = self._polling[chat.chat_id] = asyncio.Event()
        self._spawn(self._reading(chat, hurry))

    async def _reading(self, chat: firstbot.BotChat, hurry: asyncio.Event) -> None:
        try:
            await self._poll(chat, hurry)
        except Exception:
            log.exception("reading the first bot's answers stopped (chat %s)", chat.chat_id)
        finally:
            self._polling.pop(chat.chat_id, None)

    async def _poll(self, chat: firstbot.BotChat, hurry: asyncio.Event) -> None:
        """Read the bot's activities while it has the chat: quickly after a line, backing
        off while it is quiet (up to ``poll_max``). Reading stops when the chat left the
        bot, or when the bot has been quiet for ``quiet_stop`` since the last line or
        answer (a customer who walked away costs nothing; their next line reads again)."""
        watermark, pause, ours = chat.watermark, FIRST_PAUSE, customer_id(chat.chat_id)
        clock = asyncio.get_running_loop().time
        lively = clock()
        while True:
            hurry.clear()
            found, mark, chat = await self._fetch(chat, watermark)
            theirs = [a for a in found if (a.get("from") or {}).get("id") != ours]
            if found or mark != watermark:
                if not await self._answered(chat.chat_id, mark, theirs):
                    return
                watermark, pause, lively = mark, FIRST_PAUSE, clock()
            elif pause < self._poll_max:
                pause = min(pause * 2, self._poll_max)
            elif clock() - lively > self._quiet_stop or not await self._talking(chat.chat_id):
                return
            await first_of(hurry, timeout=pause)
            if hurry.is_set():
                pause, lively = FIRST_PAUSE, clock()  # a new line: its answer comes soon

    async def _fetch(
        self, chat: firstbot.BotChat, watermark: str | None
    ) -> tuple[list[dict[str, Any]], str | None, firstbot.BotChat]:
        """The activities after ``watermark`` (none when Direct Line failed: tried again
        after the pause), and the chat with a renewed token when its own ran out."""
        assert chat.conversation_id is not None and chat.token is not None
        try:
            found, mark = await self._client.read(chat.conversation_id, chat.token, watermark)
            return found, mark, chat
        except DeliveryError as refused:
            if refused.status in EXPIRED:
                chat = await self._renew(chat)
        except (ClientError, TimeoutError):
            log.warning("the first bot's activities could not be read (chat %s)", chat.chat_id)
        return [], watermark, chat

    async def _talking(self, chat_id: int) -> bool:
        """Whether the bot still has the chat (another replica may have handed it over)."""
        async with self._ctx.store.reading() as tx:
            return await firstbot.talking(tx, chat_id) is not None

    async def _answered(
        self, chat_id: int, watermark: str | None, activities: list[dict[str, Any]]
    ) -> bool:
        """The bot's new activities: its messages to the customer, up to a hand-over.
        False: the bot has the chat no more (stop reading)."""
        handoff = next(
            (
                i
                for i, a in enumerate(activities)
                if a.get("type") == "event" and a.get("name") == flows.HANDOFF_INITIATE
            ),
            None,
        )
        said = activities if handoff is None else activities[:handoff]
        if not await flows.bot_answered(self._ctx, chat_id, watermark, said):
            return False
        if handoff is None:
            return True
        event = activities[handoff]
        value = event.get("value")
        context = value if isinstance(value, dict) else {}
        lines = flows.transcript_lines(event)
        await hand_over(self._ctx, chat_id, firstbot.HANDOFF, context, lines)
        return False

    async def deliver(self, item: OutboxItem) -> None:
        """An outbox row's event to the bot (``handoff.status``); a failure raises
        :class:`DeliveryError` and the dispatcher tries again (the event carries the
        row's key, so a bot can tell a repeat)."""
        event = read_payload(item.kind, item.payload)
        assert isinstance(event, BotEvent)
        async with self._ctx.store.reading() as tx:
            chat = await firstbot.conversation_of(tx, event.chat_id)
        if chat is None or chat.conversation_id is None or chat.token is None:
            raise DeliveryError(REFUSED, "the chat has no conversation with the first bot")
        activity = {
            "type": "event",
            "name": event.name,
            "value": event.value,
            "from": {"id": customer_id(event.chat_id), "role": "user"},
            "channelData": {"bridgeKey": event.key},
        }
        try:
            await self._post(chat, activity)
        except (ClientError, TimeoutError) as failed:
            raise DeliveryError(None, f"Direct Line: {failed!r}") from failed

    async def aclose(self) -> None:
        """Stop relaying and reading (the bridge is stopping; a line's deadline still runs
        in the database, so a chat left with the bot goes to people in time)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def idle(self) -> None:
        """Wait until nothing is relayed or read (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

"""AI help for agents against a fake OpenAI-compatible server of our own: suggested replies
reach only the chat's owner, a transfer's summary reaches the new owner, a provider that
is down or hangs costs the relay nothing, and a department without AI help sends the
provider nothing at all."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import keys
from store import ai
from store.core import DEFAULT_DEPARTMENT
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, OpenChat, accepted_chat, row_id
from tests.test_team import HUNG, MAI, MINH, customer_texts, online, press, say, thread

SUPPORT = DEFAULT_DEPARTMENT
REPLIES = ["Dạ, em kiểm tra đơn hàng ngay ạ.", "Quý khách cho em xin mã đơn nhé.", "Cảm ơn ạ."]
SUMMARY = "The customer asks where order 123 is; nothing was promised yet."
TRANSLATION = "Where is my order 123?"


def kind_of(request: dict[str, Any]) -> str:
    """Which call a request is, by its instruction: suggest, summary or translate."""
    system = request["messages"][0]["content"]
    if "replies" in system:
        return "suggest"
    return "translate" if system.startswith("Translate") else "summary"


@dataclass
class FakeProvider:
    """``/v1/chat/completions`` as OpenAI serves it; ``mode``: ok, hang or down."""

    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: TestServer | None = None
    received: asyncio.Event = field(default_factory=asyncio.Event)
    # Set at teardown: a hanging answer then ends, so the server can close at once.
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if kind_of(r) == kind]

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v1"))

    async def completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.received.set()
        if self.mode == "hang":
            await self.release.wait()
        if self.mode == "down":
            return web.json_response({"error": {"message": "overloaded"}}, status=500)
        content = {
            "suggest": json.dumps({"replies": REPLIES}),
            "summary": SUMMARY,
            "translate": TRANSLATION,
        }[kind_of(body)]
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        )


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    fake = FakeProvider()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.completions)
    fake.server = TestServer(app, host="127.0.0.1")
    await fake.server.start_server()
    yield fake
    fake.release.set()
    await fake.server.close()


async def ai_bridge(
    start_bridge: BridgeFactory,
    provider: FakeProvider,
    *,
    departments: frozenset[str],
    **overrides: Any,
) -> Bridge:
    return await start_bridge(
        ai_base_url=provider.url,
        ai_api_key="test-key",
        ai_model="support-model",
        ai_timeout=30.0,
        ai_departments=departments,
        **overrides,
    )


async def calls_done(bridge: Bridge) -> None:
    """Wait for AI help's background calls, then for what they queued."""
    assistant = bridge.app[keys.ASSISTANT]
    assert assistant is not None
    await asyncio.wait_for(assistant.idle(), 10)
    await bridge.settled()


def personal_texts(bridge: Bridge, who: act.Agent) -> list[str]:
    """Every text the bot sent ``who`` in 1:1 conversations."""
    return [
        text
        for created in bridge.connector.created()
        if created.body.get("isGroup") is False and created.body["members"] == [{"id": who.id}]
        for text in bridge.connector.texts(created.conversation_id)
    ]


async def started_chat(bridge: Bridge) -> OpenChat:
    chat = await accepted_chat(
        bridge, "cust-1", "Đơn 123 của tôi đâu? Email lan@example.com", MINH, supervisor=MAI
    )
    response = await bridge.post(
        act.webchat_message(bridge.service_url, "cust-1", "Số tôi 0912 345 678")
    )
    assert response.status == 201
    await bridge.settled()
    return chat


async def test_suggestions_reach_only_the_owner(
    start_bridge: BridgeFactory, provider: FakeProvider
) -> None:
    bridge = await ai_bridge(start_bridge, provider, departments=frozenset({SUPPORT}))
    chat = await started_chat(bridge)
    await online(bridge, HUNG)
    await say(bridge, chat, MINH, "/help")
    assert "**/suggest**" in thread(bridge, chat)[-1]["text"]
    # Someone who does not own the chat is refused, and nothing is sent to the provider.
    await say(bridge, chat, HUNG, "/suggest")
    assert "only the chat's owner" in thread(bridge, chat)[-1]["text"]
    await calls_done(bridge)
    assert provider.of_kind("suggest") == []

    in_thread = len(thread(bridge, chat))
    await say(bridge, chat, MINH, "/suggest")
    await calls_done(bridge)
    [sent] = provider.of_kind("suggest")
    assert sent["model"] == "support-model"
    prompt = json.dumps(sent, ensure_ascii=False)
    assert "Đơn 123" in prompt and "Vietnamese" in prompt
    # Contacts are masked before anything leaves the bridge.
    assert "lan@example.com" not in prompt and "0912 345 678" not in prompt
    assert "[email]" in prompt and "[phone]" in prompt
    [suggestions] = personal_texts(bridge, MINH)
    assert all(reply in suggestions for reply in REPLIES)
    assert personal_texts(bridge, HUNG) == []
    # Nothing of them in the thread (the whole room reads it), nor to the customer.
    assert len(thread(bridge, chat)) == in_thread
    assert not any(REPLIES[0] in text for text in customer_texts(bridge, chat))
    # Counted against the chat's budget in the database.
    async with bridge.app[keys.STORE].reading() as tx:
        counted = await ai.calls_counted(tx, f"chat:{await row_id(bridge, chat.chat_id)}")
    assert counted == len(provider.requests) == 3  # two lines translated, one suggestion


async def test_transfer_summary_reaches_the_new_owner(
    start_bridge: BridgeFactory, provider: FakeProvider
) -> None:
    bridge = await ai_bridge(start_bridge, provider, departments=frozenset({SUPPORT}))
    chat = await started_chat(bridge)
    await online(bridge, HUNG)
    await say(bridge, chat, MINH, "/transfer @Hùng", HUNG)
    offers = [a for a in thread(bridge, chat) if a.get("attachments")]
    offer = offers[-1]["attachments"][0]["content"]["refresh"]["action"]["data"]["offer"]
    await press(bridge, chat, HUNG, "take", offer=offer)
    await calls_done(bridge)
    assert len(provider.of_kind("summary")) == 1
    [summary] = personal_texts(bridge, HUNG)
    assert SUMMARY in summary and "You took over the chat with Lan" in summary
    assert personal_texts(bridge, MINH) == []

    # At close, the summary goes into the thread and the transcript.
    await say(bridge, chat, HUNG, "/close")
    await calls_done(bridge)
    assert any(SUMMARY in a.get("text", "") for a in thread(bridge, chat))


@pytest.mark.parametrize("mode", ["hang", "down"])
async def test_a_provider_down_or_hanging_costs_the_relay_nothing(
    start_bridge: BridgeFactory, provider: FakeProvider, mode: str
) -> None:
    bridge = await ai_bridge(start_bridge, provider, departments=frozenset({SUPPORT}))
    chat = await started_chat(bridge)
    await calls_done(bridge)
    provider.received.clear()
    provider.mode = mode
    # The owner's command is answered at once, and while the provider hangs (or after it
    # failed) lines go both ways at once: all within seconds, far below AI_TIMEOUT.
    loop = asyncio.get_running_loop()
    started = loop.time()
    await say(bridge, chat, MINH, "/suggest")
    await asyncio.wait_for(provider.received.wait(), 10)
    for n in range(3):
        response = await bridge.post(
            act.webchat_message(bridge.service_url, "cust-1", f"line {n}", activity_id=f"l{n}")
        )
        assert response.status == 201
    posted = lambda: " ".join(a.get("text", "") for a in thread(bridge, chat))  # noqa: E731
    await bridge.connector.wait_for(
        lambda: all(f"line {n}" in posted() for n in range(3)), timeout=5
    )
    await say(bridge, chat, MINH, "Dạ em đây")
    assert customer_texts(bridge, chat)[-1] == "Dạ em đây"
    assert loop.time() - started < 3
    if mode == "down":
        await calls_done(bridge)
        [told] = personal_texts(bridge, MINH)
        assert "could not suggest replies" in told


async def test_a_customers_line_is_translated_beside_the_original(
    start_bridge: BridgeFactory, provider: FakeProvider
) -> None:
    bridge = await ai_bridge(start_bridge, provider, departments=frozenset({SUPPORT}))
    chat = await started_chat(bridge)
    await calls_done(bridge)
    texts = [a.get("text", "") for a in thread(bridge, chat)]
    original = next(i for i, text in enumerate(texts) if "0912 345 678" in text)
    assert f"Translation: {TRANSLATION}" in texts[original + 1]
    # Only that line was sent, masked.
    sent = [r["messages"][1]["content"] for r in provider.of_kind("translate")]
    assert "Customer: Số tôi [phone]" in sent and all(s.count("\n") == 0 for s in sent)
    # An agent's reply, on request, in the customer's language: to the writer alone.
    await online(bridge, HUNG)
    await say(bridge, chat, HUNG, "/translate We ship tomorrow")
    assert "only the chat's participants" in thread(bridge, chat)[-1]["text"]
    await say(bridge, chat, MINH, "/translate We ship tomorrow")
    await calls_done(bridge)
    asked = provider.of_kind("translate")[-1]
    assert asked["messages"][1]["content"] == "Agent: We ship tomorrow"
    assert "Vietnamese" in asked["messages"][0]["content"]
    [mine] = personal_texts(bridge, MINH)
    assert TRANSLATION in mine and personal_texts(bridge, HUNG) == []
    assert "We ship tomorrow" not in " ".join(customer_texts(bridge, chat))
    # A customer who writes in the team's language is not translated.
    before = len(provider.requests)
    response = await bridge.post(
        act.webchat_message(bridge.service_url, "cust-1", "Thanks", locale="en-US")
    )
    assert response.status == 201
    await calls_done(bridge)
    assert len(provider.requests) == before


async def test_budgets_are_counted_in_the_database(
    start_bridge: BridgeFactory, provider: FakeProvider
) -> None:
    """The department's day allows three calls: two translations and one suggestion; the
    second ``/suggest`` is refused by the budget and the provider hears nothing of it."""
    bridge = await ai_bridge(
        start_bridge, provider, departments=frozenset({SUPPORT}), ai_calls_per_day=3
    )
    chat = await started_chat(bridge)
    await say(bridge, chat, MINH, "/suggest")
    await calls_done(bridge)
    await say(bridge, chat, MINH, "/suggest")
    await calls_done(bridge)
    assert len(provider.requests) == 3
    told = personal_texts(bridge, MINH)
    assert len(told) == 2 and "budget" in told[-1]
    # The refused claim gave the chat's count back: only what was sent is counted.
    async with bridge.app[keys.STORE].reading() as tx:
        assert await ai.calls_counted(tx, f"chat:{await row_id(bridge, chat.chat_id)}") == 3
    scraped = await bridge.get("/metrics")
    metrics = await scraped.text()
    assert 'bridge_ai_calls_total{department="default",kind="suggest",outcome="ok"} 1.0' in metrics
    assert 'bridge_ai_calls_today{department="default"} 3.0' in metrics


async def test_nothing_reaches_the_provider_for_a_department_without_ai(
    start_bridge: BridgeFactory, provider: FakeProvider
) -> None:
    bridge = await ai_bridge(start_bridge, provider, departments=frozenset({"sales"}))
    chat = await started_chat(bridge)
    await online(bridge, HUNG)
    await say(bridge, chat, MINH, "/suggest")
    assert "not turned on" in thread(bridge, chat)[-1]["text"]
    await say(bridge, chat, MINH, "/transfer @Hùng", HUNG)
    offers = [a for a in thread(bridge, chat) if a.get("attachments")]
    offer = offers[-1]["attachments"][0]["content"]["refresh"]["action"]["data"]["offer"]
    await press(bridge, chat, HUNG, "take", offer=offer)
    await say(bridge, chat, HUNG, "/close")
    await calls_done(bridge)
    assert provider.requests == []
    assert personal_texts(bridge, HUNG) == []



"""Both sides on one machine, as the README's "Try both sides on one machine" tells a
newcomer: the bridge in local mode (``python app.py``, a real process), Microsoft's Teams
emulator (the Microsoft 365 Agents Playground, a real Node process) pointing at it, and
Debian's Chromium driving the Playground's page as the agent and the bridge's ``/chat`` as
the customer. Screenshots of each step go to ``build/screenshots`` (git-ignored).

It runs on SQLite only: what it adds is the Playground's own activities (its ids, its
tenant, its service URL, its mentions, its ``Action.Execute`` invoke) against the real
bridge; both engines run the same turns in ``test_bridge``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from dialogs.i18n import Texts
from tests.browser import SCREENSHOTS, Site, screenshots
from tests.playground import (
    GENERAL,
    LOOPBACK,
    USER_NAME,
    Playground,
    only_local,
    playground_cli,
    post_in_channel,
    posts,
    reply_in_thread,
)
from tests.processes import BridgeProcess

# The browser, the site serving the Web Chat bundle (standing in for Microsoft's CDN) and
# the customer's typing and reading come from ``test_website``; pytest passes the fixtures
# by name, as parameters of the same names.
# ruff: noqa: F811
from tests.test_website import (  # noqa: F401  (fixtures)
    browser,
    say,
    shown,
    site,
)

EN = Texts("en")
# ms: a line crosses the bridge's outbox and the Playground's socket (seconds on a machine
# that runs other tests beside this one).
SEEN = 20_000


def plain(markdown: str) -> str:
    """A locale text as the Playground shows it: bold marks and mention tags gone."""
    return re.sub(r"</?at>", "", markdown.replace("**", ""))


@pytest.fixture
async def bridge(tmp_path: Path, site: Site) -> AsyncIterator[BridgeProcess]:
    playground_cli()  # nothing starts where the Playground is missing
    process = BridgeProcess(
        f"sqlite+aiosqlite:///{tmp_path}/bridge.db",
        tmp_path / "bridge.log",
        WEBCHAT_SCRIPT_URL=site.url("/webchat.js"),
        PRECHAT_FORM="off",
    )
    await process.start()
    yield process
    process.stop()


@pytest.fixture
async def playground(tmp_path: Path, bridge: BridgeProcess) -> AsyncIterator[Playground]:
    running = Playground(f"{bridge.url}/api/messages", tmp_path)
    await running.start()
    yield running
    running.stop()


async def look(page: Page, name: str) -> None:
    """The Playground as the agent sees it at this step (1280 px: it has no phone layout)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"playground-{name}.png"))


async def pages(browser: Browser) -> tuple[BrowserContext, Page, Page]:
    """The agent's Playground page (desktop) and the customer's ``/chat`` (phone)."""
    context = await browser.new_context(locale="en-US")
    await context.route("**/*", only_local)
    agent = await context.new_page()
    await agent.set_viewport_size({"width": 1280, "height": 900})
    customer = await context.new_page()
    await customer.set_viewport_size({"width": 390, "height": 800})
    return context, agent, customer


async def test_agent_in_the_playground_and_customer_on_the_chat_page(
    bridge: BridgeProcess, playground: Playground, browser: Browser
) -> None:
    context, agent, customer = await pages(browser)
    channel = posts(agent)
    # The agent opens the team's channel General and makes it the room of Sales.
    await agent.goto(playground.url)
    await agent.get_by_role("treeitem", name=GENERAL).click(timeout=SEEN)
    await post_in_channel(agent, "setup Sales")
    done = plain(EN("agent.setup_done", department="Sales", supervisor=USER_NAME))
    await expect(channel.filter(has_text=done)).to_be_visible(timeout=SEEN)
    await post_in_channel(agent, "online")
    now_online = EN("agent.availability_set", mention=USER_NAME, availability="online")
    await expect(channel.filter(has_text=plain(now_online))).to_be_visible(timeout=SEEN)
    await look(agent, "1-room")

    # A customer writes on the bridge's own chat page.
    await customer.goto(f"{bridge.url}/chat?lang=en")
    await expect(customer.locator("#status")).to_have_text(EN("web.status_online"), timeout=SEEN)
    question = "Hello, where is my order 42?"
    await say(customer, question)
    await shown(customer, EN("customer.ack"))

    # Its card appears in General; the agent accepts it.
    card = channel.filter(has_text=question)
    accept = card.get_by_role("button", name=EN("card.accept"))
    await expect(accept).to_be_visible(timeout=SEEN)
    await look(agent, "2-new-chat")
    await accept.click()
    helping = EN("card.headline.active", agent=USER_NAME)
    await expect(card.get_by_text(helping)).to_be_visible(timeout=SEEN)
    await shown(customer, EN("customer.agent_joined", agent=USER_NAME))
    status = customer.locator("#status")
    await expect(status).to_have_text(EN("web.helping", name=USER_NAME), timeout=SEEN)
    await look(agent, "3-accepted")

    # They talk: the agent in the card's thread, the customer on the page.
    answer = "Hi, this is Alex. Order 42 left the warehouse today."
    await reply_in_thread(agent, card, answer)
    await shown(customer, answer)
    await say(customer, "Thank you, Alex!")
    relayed = card.get_by_text(re.compile(r"#\d+: Thank you, Alex!"))
    await expect(relayed).to_be_visible(timeout=SEEN)
    await look(agent, "4-conversation")
    await screenshots(customer, "playground-customer")

    # The agent closes the chat from its thread; the customer is told.
    await reply_in_thread(agent, card, "/close")
    await shown(customer, EN("customer.chat_ended"))
    await expect(status).to_have_text(EN("web.status_online"))  # nobody helps any more
    closed = re.compile(re.escape(EN("card.headline.closed", duration="")))
    await expect(card.get_by_text(closed)).to_be_visible(timeout=SEEN)
    await look(agent, "5-closed")
    await context.close()


# How the Playground's server starts (its dist/index.js): ``server.listen(port, callback)``,
# no address. Here with each way of naming a port, the address the server got.
LISTENS = """
const http = require("http");
const calls = [
  (server, done) => server.listen(0, done),
  (server, done) => server.listen({ port: 0 }, done),
  (server, done) => server.listen(0, 511, done),
  (server, done) => server.listen(0, "::1", done),
];
const got = [];
(function next(i) {
  if (i === calls.length) return console.log(JSON.stringify(got));
  const server = http.createServer();
  calls[i](server, () => { got.push(server.address().address); server.close(() => next(i + 1)); });
})(0);
"""


def addresses(*preload: str) -> list[str]:
    ran = subprocess.run(
        ["node", *preload, "-e", LISTENS], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(ran.stdout)


def test_the_preload_keeps_the_playground_on_loopback() -> None:
    """Without the preload a port alone listens on every interface; with it, on 127.0.0.1
    (an address the caller names is kept)."""
    playground_cli()
    assert addresses()[:3] != ["127.0.0.1"] * 3
    assert addresses("--require", str(LOOPBACK)) == ["127.0.0.1"] * 3 + ["::1"]

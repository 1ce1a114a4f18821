"""The Web Chat round trip: ``python -m bench.webchat [--runs 20] [--database-url URL]``.

Chromium opens ``/chat`` in Vietnamese on the bridge in local mode (its own Direct Line),
with a room set up and an agent online on the connector emulator; each run is a new
visitor. The page itself times from the Enter key to the frame that shows the bot's
acknowledgement (a MutationObserver, then ``requestAnimationFrame``), so Playwright's
own overhead is not counted. The path measured: the local Direct Line's POST, the turn
(chat opened in the database, outbox rows), the outbox's HTTP call to the local
connector, the WebSocket push and Web Chat's render.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from pathlib import Path

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright
from sqlalchemy.ext.asyncio import create_async_engine

from app import create_app
from bot.settings import Settings
from dialogs.i18n import Texts
from store.models import Base
from tests import activities as act
from tests.browser import Site, chromium
from tests.connector_emulator import ConnectorEmulator

RESULTS = Path(__file__).with_name("results") / "webchat.json"
SENDBOX = "[data-id='webchat-sendbox-input']"

# Resolves with the milliseconds from the first Enter to the frame showing ``expected``.
TIMER = """(expected) => {
    window.__roundTrip = new Promise((resolve) => {
        let start = null;
        document.addEventListener("keydown", (event) => {
            if (event.key === "Enter" && start === null) { start = performance.now(); }
        }, true);
        const observer = new MutationObserver(() => {
            if (start !== null && document.body.innerText.includes(expected)) {
                observer.disconnect();
                requestAnimationFrame(() => resolve(performance.now() - start));
            }
        });
        observer.observe(document.body, {subtree: true, childList: true, characterData: true});
    });
}"""


async def empty(database_url: str) -> None:
    """Start from no tables: a leftover department would make the bot ask for a choice."""
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
    await engine.dispose()


async def measure(runs: int, database_url: str) -> list[float]:
    await empty(database_url)
    connector = ConnectorEmulator()
    await connector.start()
    site = Site()
    await site.start()
    settings = Settings(
        database_url=database_url,
        webchat_script_url=site.url("/webchat.js"),
        prechat_form="off",
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    times: list[float] = []
    try:
        async with ClientSession() as http:
            mai = act.agent(1, "Mai")
            for word in ("setup", "online"):
                activity = act.room_message(connector.url, mai, word)
                await http.post(str(server.make_url("/api/messages")), json=activity)
        vi = Texts("vi")
        expected = vi("customer.ack", name=vi("web.guest"))
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium())
            for run in range(runs):
                context = await browser.new_context(locale="vi-VN")
                page = await context.new_page()
                async with page.expect_websocket():
                    await page.goto(str(server.make_url("/chat?lang=vi")))
                await page.locator(SENDBOX).fill(f"Xin chào, tôi cần hỗ trợ ({run + 1})")
                await page.wait_for_timeout(300)  # the stream is open and idle
                await page.evaluate(TIMER, expected)
                await page.locator(SENDBOX).press("Enter")
                async with asyncio.timeout(10):
                    elapsed = await page.evaluate("window.__roundTrip")
                times.append(elapsed / 1000)
                print(f"run {run + 1:2d}: {elapsed:7.1f} ms")
                await context.close()
            await browser.close()
    finally:
        await server.close()
        await site.stop()
        await connector.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webchat", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--database-url", help="default: SQLite in a temporary folder (its tables are dropped)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        times = asyncio.run(measure(options.runs, url))
    summary = {
        "runs": len(times),
        "median_ms": round(statistics.median(times) * 1000, 1),
        "p90_ms": round(sorted(times)[int(0.9 * (len(times) - 1))] * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "engine": "postgresql" if options.database_url else "sqlite",
    }
    print(json.dumps(summary))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({**summary, "seconds": times}, indent=2) + "\n")


if __name__ == "__main__":
    main()

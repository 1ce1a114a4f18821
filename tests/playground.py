"""Microsoft's Teams emulator, the Microsoft 365 Agents Playground, as a real process.

The npm package ``@microsoft/m365agentsplayground`` (pinned below, installed by
``.ci/run`` into the git-ignored ``build/npm``) serves a Teams-like web page and a mock
Bot Connector on one port, and forwards what its user does there to the bot's
``/api/messages`` as Teams activities (channel ``msteams``, team "My Team", channel
"General", no token: the bridge in local mode). It has no option for its address and
listens on every interface, so it is started with ``playground_loopback.cjs`` preloaded,
which keeps it on 127.0.0.1. Without Node or the package, the test is skipped locally and
fails in CI (``tests.browser.missing``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from playwright.async_api import Locator, Page, Route
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.browser import ROOT, missing

PLAYGROUND_VERSION = "0.2.28"
PACKAGE = ROOT / "build/npm/node_modules/@microsoft/m365agentsplayground"
INSTALL = (
    "npm install --no-audit --no-fund --prefix build/npm "
    f"@microsoft/m365agentsplayground@{PLAYGROUND_VERSION}"
)
LOOPBACK = Path(__file__).with_name("playground_loopback.cjs")
# The Playground's own names: its bot, its signed-in user, its team's first channel.
BOT_NAME = "Test Bot"
USER_NAME = "Alex Wilber"
GENERAL = "My Team - General"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def playground_cli() -> Path:
    """The pinned Playground's ``cli.js`` (skips locally, fails in CI, where it is missing)."""
    manifest = PACKAGE / "package.json"
    if not manifest.exists():
        missing(f"the Agents Playground is not installed: run `{INSTALL}`")
    version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    if version != PLAYGROUND_VERSION:
        missing(f"the Agents Playground is {version}, not {PLAYGROUND_VERSION}: run `{INSTALL}`")
    if not shutil.which("node"):
        missing("Node.js is not installed (apt-get install nodejs)")
    return PACKAGE / "cli.js"


class Playground:
    """One Playground process talking to ``endpoint``, on a port of its own choosing."""

    def __init__(self, endpoint: str, folder: Path) -> None:
        self._endpoint = endpoint
        self._folder = folder
        self._output_path = folder / "playground.out"
        self._output: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def spawn(self) -> None:
        """Start it, its files in ``folder``: -p 0 (a free port), --dt (no telemetry)."""
        cli = playground_cli()
        env = {
            **os.environ,
            "NODE_OPTIONS": f"--require {LOOPBACK}",
            "TEAMSAPPTESTER_BROWSER": "none",  # it opens no browser of its own
            "M365_AGENTS_PLAYGROUND_LOGFILE": str(self._folder / "playground.log"),
        }
        self._output = open(self._output_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["node", str(cli), "-e", self._endpoint, "-c", "msteams", "-p", "0", "--dt"],
            cwd=self._folder,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    async def start(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Spawn it and wait until it says its port."""
        self.spawn()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            said = re.search(r"Listening on (\d+)", self.output())
            if said:
                self.url = f"http://127.0.0.1:{said.group(1)}"
                return
            if self.process.poll() is not None:
                raise AssertionError(f"the Playground exited: {self.output()}")
            await asyncio.sleep(0.1)
        raise AssertionError(f"the Playground did not start in {timeout}s: {self.output()}")

    def output(self) -> str:
        return self._output_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._output is not None:
            self._output.close()
            self._output = None


async def only_local(route: Route) -> None:
    """The Playground's page asks Microsoft's CDNs for fonts and animations, and tests
    talk only to this machine: those requests are refused (the page works without)."""
    if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
        await route.continue_()
    else:
        await route.abort()


def posts(page: Page) -> Locator:
    """The channel's posts (each with its replies), not the Playground's log panel."""
    return page.get_by_role("group")


async def write_to_bot(page: Page, editor: Locator, text: str, send: Locator) -> None:
    """Write ``@Test Bot <text>`` in ``editor`` and send it. The Playground forwards a
    channel post to the bot only when it @mentions it, as a picked mention (typing the
    name is not enough: it must be chosen from the list, which makes the ``<at>`` tag)."""
    picked = page.get_by_role("menuitem", name=BOT_NAME)
    for attempt in range(3):
        # The list of mentions sometimes does not open when the editor was still settling
        # after the previous post: the half-typed mention is cleared and typed again.
        await editor.click()
        await page.keyboard.press("Control+A")
        await page.keyboard.press("Delete")
        await page.keyboard.type("@" + BOT_NAME.split()[0])
        try:
            await picked.click(timeout=5_000 if attempt < 2 else 15_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    await page.keyboard.type(" " + text)
    await send.click()


async def post_in_channel(page: Page, text: str) -> None:
    """A new post at the channel's root ("Start a new post", then Post)."""
    editor = page.locator("[data-lexical-editor]").first
    await write_to_bot(page, editor, text, page.get_by_role("button", name="Post", exact=True))


async def reply_in_thread(page: Page, thread: Locator, text: str) -> None:
    """A reply under the post ``thread`` (its "Type a message..." box, then Send)."""
    editor = thread.locator("[data-lexical-editor]")
    await write_to_bot(page, editor, text, thread.get_by_role("button", name="Send Message"))

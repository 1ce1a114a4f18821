"""What the browser tests need: Debian's Chromium, the Web Chat bundle, a company website.

Chromium comes from the distribution's packages (``apt-get install chromium``) and is
driven by Playwright with that executable; nothing is downloaded at test time except the
Web Chat bundle, fetched once with npm into ``build/webchat/`` (git-ignored), since the
tests cannot reach Microsoft's CDN. In CI (``CI`` set) a missing piece fails the run
instead of skipping it silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from bot.settings import WEBCHAT_VERSION

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "build" / "webchat" / WEBCHAT_VERSION / "webchat.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
WIDTHS = (390, 1280)


def missing(reason: str) -> None:
    """Skip where a developer lacks a piece; in CI, fail: browser tests must run there."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found:
        missing("Chromium is not installed (apt-get install chromium)")
    assert found is not None
    return found


def webchat_bundle() -> Path:
    """``dist/webchat.js`` of the pinned release, packed by npm on first use."""
    if BUNDLE.exists():
        return BUNDLE
    npm = shutil.which("npm")
    if not npm:
        missing("npm is not installed: it fetches the Web Chat bundle")
    assert npm is not None
    BUNDLE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUNDLE.parent) as folder:
        packed = subprocess.run(
            [npm, "pack", f"botframework-webchat@{WEBCHAT_VERSION}", "--pack-destination", folder],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(folder).glob("*.tgz"))
        if packed.returncode != 0 or not tarballs:
            missing(f"npm pack botframework-webchat failed: {packed.stderr[-300:]}")
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile("package/dist/webchat.js")
            assert member is not None
            partial = BUNDLE.with_suffix(".part")
            partial.write_bytes(member.read())
            partial.replace(BUNDLE)
    return BUNDLE


WIDGET_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Example shop</title></head>
<body style="font-family: sans-serif; margin: 40px">
<h1>Example shop</h1>
<p>A plain page of a company website. <a href="/shop/{next}">Next page</a></p>
<script src="{widget}" {attributes} async></script>
</body></html>
"""


class Site:
    """A company's website on its own origin: plain pages with the widget's script tag,
    and the Web Chat bundle the bridge's pages load (standing in for the CDN)."""

    def __init__(self) -> None:
        self.server: TestServer | None = None
        self.widget_url = ""
        self.attributes = ""

    @property
    def origin(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/")).rstrip("/")

    def url(self, path: str) -> str:
        return self.origin + path

    async def start(self) -> None:
        app = web.Application()
        bundle = webchat_bundle()

        async def page(request: web.Request) -> web.Response:
            number = int(request.match_info["n"])
            html = WIDGET_PAGE.format(
                next=number + 1, widget=self.widget_url, attributes=self.attributes
            )
            return web.Response(text=html, content_type="text/html")

        async def script(request: web.Request) -> web.FileResponse:
            return web.FileResponse(bundle)

        app.router.add_get("/webchat.js", script)
        app.router.add_get("/shop/{n:\\d+}", page)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()


async def screenshots(page: Page, name: str) -> None:
    """Save the page at phone and desktop width (``build/screenshots``, git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 800})
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"))
    if original:
        await page.set_viewport_size(original)

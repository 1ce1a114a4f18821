"""The customer's pages: ``/chat`` (Web Chat as a full page), ``/widget.js`` (the button
any site embeds) and ``/api/availability`` (what the button says).

Pages are rendered on the server in the visitor's language; everything the browser
script needs arrives as one JSON block, so the scripts hold no texts of their own.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from yarl import URL

from bot.settings import WIDGET_COLOR, Settings
from dialogs.i18n import Texts, languages, pick_language
from store import front
from web import keys
from web.directline import DIRECT_LINE_PREFIX

LOCALES = {"vi": "vi-VN", "en": "en-US"}
_COLOR = re.compile(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?")
_DEPARTMENT_LIMIT = 128
# The texts the pages and the widget show, by their key in the locale files.
PAGE_TEXTS = (
    "web.title",
    "web.button_online",
    "web.button_offline",
    "web.open_chat",
    "web.close_chat",
    "web.greeting",
    "web.invite_reply",
    "web.invite_dismiss",
    "web.status_online",
    "web.status_offline",
    "web.offline_notice",
    "web.prechat_intro",
    "web.optional",
    "web.name",
    "web.contact",
    "web.department",
    "web.choose_department",
    "web.start",
    "web.skip",
    "web.connect_failed",
    "web.retry",
    "web.placeholder",
    "web.guest",
)


def page_texts(settings: Settings, language: str) -> dict[str, str]:
    """The page's texts in one language; the title and greeting may come from settings."""
    t = Texts(language)
    texts = {key.removeprefix("web."): t(key) for key in PAGE_TEXTS}
    texts["title"] = settings.widget_title or texts["title"]
    texts["greeting"] = settings.widget_greeting or texts["greeting"]
    return texts


def brand_color(settings: Settings) -> str:
    """``WIDGET_COLOR`` goes into CSS: only a plain hex colour is taken."""
    return settings.widget_color if _COLOR.fullmatch(settings.widget_color) else WIDGET_COLOR


def visitor_language(request: web.Request, settings: Settings) -> str:
    """``?lang=``, else the browser's first language the bridge speaks, else the default."""
    asked = request.query.get("lang")
    if asked:
        return pick_language(asked, settings.default_language)
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";", 1)[0].strip()
        if tag and pick_language(tag, "") in languages():
            return pick_language(tag, settings.default_language)
    return settings.default_language


def _department(request: web.Request) -> str:
    return request.query.get("department", "").strip()[:_DEPARTMENT_LIMIT]


async def chat_page(request: web.Request) -> web.Response:
    """The full-page chat; ``?embed=1`` is the widget's panel, ``?invited=1`` starts with
    the invitation's greeting."""
    settings = request.app[keys.SETTINGS]
    store = request.app[keys.STORE]
    language = visitor_language(request, settings)
    department = _department(request)
    async with store.reading() as tx:
        choices = await front.department_choices(tx)
        online = await front.online_count(tx, department or None)
    config: dict[str, Any] = {
        "lang": language,
        "locale": LOCALES.get(language, language),
        "texts": page_texts(settings, language),
        "prechat": settings.prechat_form,
        "departments": [list(choice) for choice in choices] if len(choices) > 1 else [],
        "department": department,
        "invited": request.query.get("invited") == "1",
        "online": bool(online),
        "tokenUrl": "api/directline/token",
        "refreshUrl": "api/directline/refresh",
        # Local mode: this server is the Direct Line service (the page adds its origin).
        "directLine": None if settings.local_direct_line else settings.direct_line_endpoint,
        "localDirectLine": DIRECT_LINE_PREFIX,
    }
    context = {
        "lang": language,
        "title": config["texts"]["title"],
        "color": brand_color(settings),
        "embedded": request.query.get("embed") == "1",
        "config": config,
        "webchat_script_url": settings.webchat_script_url,
    }
    response = aiohttp_jinja2.render_template("chat.html", request, context)
    response.headers["Content-Security-Policy"] = content_policy(settings)
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def content_policy(settings: Settings) -> str:
    """The chat page talks to the bridge, the Web Chat script's host and Direct Line only;
    only the bridge and ``ALLOWED_ORIGINS`` may frame it (the widget's panel)."""
    script = str(URL(settings.webchat_script_url).origin())
    connect = ["'self'"]
    if not settings.local_direct_line:
        direct_line = URL(settings.direct_line_endpoint)
        websocket = direct_line.with_scheme("wss" if direct_line.scheme == "https" else "ws")
        connect += [str(direct_line.origin()), str(websocket.origin())]
    else:
        connect += ["ws:", "wss:"]  # the local stream, on whatever host the page was opened
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {script}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob: https:",
            "media-src 'self' blob: https:",
            "font-src 'self' data:",
            "worker-src 'self' blob:",
            f"connect-src {' '.join(connect)}",
            "frame-ancestors " + " ".join(["'self'", *sorted(settings.allowed_origins)]),
        ]
    )


async def widget_script(request: web.Request) -> web.Response:
    """The embeddable script: texts of every language; the page's tag picks one."""
    settings = request.app[keys.SETTINGS]
    config = {
        "defaultLang": settings.default_language,
        "color": brand_color(settings),
        "texts": {language: page_texts(settings, language) for language in languages()},
    }
    response = web.Response(
        text=aiohttp_jinja2.render_string("widget.js", request, {"config": config}),
        content_type="application/javascript",
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def availability(request: web.Request) -> web.Response:
    """``{"online": true|false}`` for a department (``?department=``), or for any."""
    department = _department(request)
    async with request.app[keys.STORE].reading() as tx:
        online = await front.online_count(tx, department or None)
    if online is None:
        raise web.HTTPNotFound(
            text='{"error": "no such department"}', content_type="application/json"
        )
    response = web.json_response({"online": online > 0})
    response.headers["Cache-Control"] = "no-store"
    tokens = request.app[keys.TOKENS]
    origin = request.headers.get("Origin")
    return tokens.cors(response, origin if tokens.permitted(request, origin) else None)

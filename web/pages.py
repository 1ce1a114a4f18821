"""The customer's pages: ``/chat`` (Web Chat as a full page), ``/widget.js`` (the button
any site embeds) and ``/api/availability`` (what the button says).

Pages are rendered on the server in the visitor's language; everything the browser
script needs arrives as one JSON block, so the scripts hold no texts of their own.
"""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import segno
from aiohttp import web
from yarl import URL

from bot.settings import WIDGET_COLOR, Settings
from dialogs.i18n import Texts, languages, pick_language
from store import front
from web import keys
from web.directline import ACCEPTED_FILES, DIRECT_LINE_PREFIX
from web.headers import secure

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
    "web.unread_title",
    "web.unread_label",
    "web.announce",
    "web.online_now",
    "web.helping",
    "web.new_conversation",
    "web.attach",
    "web.upload_refused",
    "web.required",
    "web.error_name",
    "web.error_contact",
    "web.error_contact_format",
    "web.error_department",
    "web.offline_prechat",
    "web.privacy",
    "web.privacy_link",
    "web.elsewhere",
    "web.chat_on_zalo",
    "web.chat_on_messenger",
    "web.scan",
)
# Where "Chat on Zalo" / "Chat on Messenger" lead: a Zalo Official Account, a Facebook page.
OFFER_URLS = {"zalo": "https://zalo.me/{}", "messenger": "https://m.me/{}"}


def page_texts(settings: Settings, language: str) -> dict[str, str]:
    """The page's texts in one language; the title and greeting may come from settings."""
    t = Texts(language)
    texts = {key.removeprefix("web."): t(key) for key in PAGE_TEXTS}
    texts["title"] = settings.widget_title or texts["title"]
    texts["greeting"] = settings.widget_greeting or texts["greeting"]
    return texts


def offers(settings: Settings, texts: dict[str, str]) -> list[dict[str, str]]:
    """The messengers the company is on: where each leads and its QR code's address."""
    configured = {"zalo": settings.zalo_oa_id, "messenger": settings.messenger_page}
    return [
        {
            "channel": channel,
            "url": OFFER_URLS[channel].format(quote(account, safe="")),
            "label": texts[f"chat_on_{channel}"],
            "qr": f"api/offer/{channel}.svg",
        }
        for channel, account in configured.items()
        if account
    ]


def initials(name: str) -> str:
    """"Nguyễn Minh Anh" -> "NA": the first letters of the first and the last word."""
    words = name.split()
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def reply_time(texts: Texts, seconds: float | None) -> str:
    """The usual wait for a first reply, in words; empty when there is nothing to go by."""
    if seconds is None:
        return ""
    minutes = max(1, round(seconds / 60))
    if minutes <= 90:
        return texts("web.reply_minutes", minutes=minutes)
    return texts("web.reply_hours", hours=round(minutes / 60))


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
        faces = await front.online_names(tx, department or None)
        waited = await front.usual_reply_seconds(tx)
    texts = page_texts(settings, language)
    config: dict[str, Any] = {
        "lang": language,
        "locale": LOCALES.get(language, language),
        "texts": texts,
        "prechat": settings.prechat_form,
        "privacyUrl": settings.privacy_url,
        "faces": [initials(name) for name in faces],
        "replyTime": reply_time(Texts(language), waited),
        "offers": offers(settings, texts),
        "rememberDays": settings.chat_remember_days,
        "uploadLimit": settings.upload_max_bytes,
        "accept": sorted(ACCEPTED_FILES),
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
    # The widget frames the page from ALLOWED_ORIGINS: only frame-ancestors can say so.
    secure(response, content_policy(settings), frame_options=None, referrer="same-origin")
    return response


def content_policy(settings: Settings) -> str:
    """The chat page talks to the bridge, the Web Chat script's host and Direct Line only;
    only the bridge and ``ALLOWED_ORIGINS`` may frame it (the widget's panel)."""
    script = str(URL(settings.webchat_script_url).origin())
    connect = ["'self'", "blob:"]  # blob: the visitor's photo, read before its upload
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
        "sound": settings.widget_sound,
        "offset": max(0, settings.widget_offset),
        "rememberDays": settings.chat_remember_days,
        "texts": {language: page_texts(settings, language) for language in languages()},
    }
    response = web.Response(
        text=aiohttp_jinja2.render_string("widget.js", request, {"config": config}),
        content_type="application/javascript",
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def availability(request: web.Request) -> web.Response:
    """``{"online": true|false, "faces": ["MA"], "replySeconds": 240}`` for a department
    (``?department=``), or for any: who could answer (initials only) and the usual wait
    for a first reply over the last 7 days."""
    department = _department(request)
    async with request.app[keys.STORE].reading() as tx:
        online = await front.online_count(tx, department or None)
        faces = await front.online_names(tx, department or None)
        waited = await front.usual_reply_seconds(tx)
    if online is None:
        raise web.HTTPNotFound(
            text='{"error": "no such department"}', content_type="application/json"
        )
    response = web.json_response(
        {
            "online": online > 0,
            "faces": [initials(name) for name in faces],
            "replySeconds": None if waited is None else round(waited),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    tokens = request.app[keys.TOKENS]
    origin = request.headers.get("Origin")
    return tokens.cors(response, origin if tokens.permitted(request, origin) else None)


async def offer_code(request: web.Request) -> web.Response:
    """The QR code (SVG) of "Chat on Zalo" / "Chat on Messenger", for a desktop visitor
    to scan with the phone their messenger is on; 404 when that one is not configured."""
    settings = request.app[keys.SETTINGS]
    wanted = request.match_info["channel"]
    found = [o for o in offers(settings, page_texts(settings, "en")) if o["channel"] == wanted]
    if not found:
        raise web.HTTPNotFound()
    svg = io.BytesIO()
    segno.make(found[0]["url"], error="m").save(
        svg, kind="svg", scale=4, border=2, dark="#1f2328", xmldecl=False, svgclass=None
    )
    response = web.Response(body=svg.getvalue(), content_type="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

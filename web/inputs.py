"""What a request may carry, checked once for every endpoint: one bounded JSON reader,
and one guard for text in paths, queries and forms.

A body or a parameter that cannot be read or kept is the sender's mistake: a 4xx that
says why, never a 500 from deep inside (a channel re-delivers on a 5xx; an attacker
learns where it broke). Two kinds of text are refused everywhere they enter, the same
way: a NUL, which PostgreSQL cannot keep in a text column (SQLite truncates at it in
places), and a lone UTF-16 surrogate (``"\\ud800"`` in JSON), which is not Unicode and
which neither database nor any channel can encode. Nothing is stripped silently: the
sender is told, and nothing of the request is kept (I-JSON, RFC 7493, says the same).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

# Deepest nesting of objects and lists a body may have (Teams cards stay far below).
MAX_DEPTH = 64
# Form fields are read by this guard only for the content types a browser's form sends.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_ANSWERS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    408: web.HTTPRequestTimeout,
    415: web.HTTPUnsupportedMediaType,
}


class Unreadable(Exception):
    """A request refused for what it carries: the HTTP status and the reason to give."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def answer(self, text: str | None = None, limit: int = 0) -> web.HTTPException:
        """The refusal as an HTTP answer: ``{"error": reason}`` unless the endpoint speaks
        another error shape (``text``); ``limit`` is the size limit a 413 names."""
        body = text if text is not None else json.dumps({"error": self.reason})
        if self.status == 413:
            return web.HTTPRequestEntityTooLarge(
                max_size=limit, actual_size=0, text=body, content_type="application/json"
            )
        return _ANSWERS[self.status](text=body, content_type="application/json")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be kept (a NUL, a lone surrogate), or None when it can."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains text that is not valid Unicode"
    return None


def check_json(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed JSON value nested deeper than ``max_depth`` or holding a string
    (a key too) that cannot be kept. A loop, not recursion: nothing deep recurses."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list) and depth >= max_depth:
            raise Unreadable(400, f"the body is nested too deeply (more than {max_depth} levels)")
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            problem = unstorable(item)
            if problem:
                raise Unreadable(400, f"the body {problem}")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(
    request: web.Request, *, max_bytes: int, seconds: float | None = None
) -> Any:
    """The request's body as JSON, read within ``max_bytes`` (and ``seconds``):
    every way it can be unreadable raises ``Unreadable`` with a 4xx and the reason.

    Too large (announced or found while reading): 413. Too slow: 408. An unknown charset:
    415. Not UTF-8 (or the charset given), not JSON, NaN or Infinity, a number of more
    digits than Python converts, nested deeper than ``MAX_DEPTH`` (or than the parser
    goes: its RecursionError is caught here), a NUL or a lone surrogate anywhere: 400.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise Unreadable(413, "the body is too large")
    try:
        async with asyncio.timeout(seconds):
            raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise Unreadable(413, "the body is too large") from None
    except TimeoutError:
        raise Unreadable(408, "the body came too slowly") from None
    if len(raw) > max_bytes:
        raise Unreadable(413, "the body is too large")
    return parse_json(raw, request.charset)


def parse_json(raw: bytes, charset: str | None = None) -> Any:
    """Bytes as JSON, or ``Unreadable``: an unknown charset 415; not the charset, not
    JSON, NaN or Infinity, too many digits, too deep, a NUL or lone surrogate: 400."""
    try:
        decoded = raw.decode(charset or "utf-8")
    except LookupError:
        raise Unreadable(415, f"unknown charset {charset!r}") from None
    except UnicodeDecodeError:
        raise Unreadable(400, "the body is not valid JSON") from None
    try:
        body = json.loads(decoded, parse_constant=_not_json)
    except ValueError:
        raise Unreadable(400, "the body is not valid JSON") from None
    except RecursionError:
        raise Unreadable(
            400, f"the body is nested too deeply (more than {MAX_DEPTH} levels)"
        ) from None
    check_json(body)
    return body


async def _form_problem(request: web.Request) -> str | None:
    """Why a browser form's fields cannot be read or kept (None: they can). The form is
    read here once; the handler's own ``request.post()`` gets the same, cached."""
    try:
        form = await request.post()
    except (ValueError, LookupError):
        return "the form cannot be read"
    for name, value in form.items():
        for text in (name, value if isinstance(value, str) else ""):
            problem = unstorable(text)
            if problem:
                return f"a form field {problem}"
    return None


def _text_problem(request: web.Request) -> str | None:
    """Why the path or the query cannot be kept (None: they can)."""
    problem = unstorable(request.path)
    if problem:
        return f"the address {problem}"
    if request.query_string:
        for name, value in request.query.items():
            problem = unstorable(name) or unstorable(value)
            if problem:
                return f"a query parameter {problem}"
    return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def streams_files(handler: Any) -> Any:
    """Mark a handler that streams a multipart body part by part within its own limits
    (a file upload, its activity read by ``parse_json``): the middleware leaves its form
    unread, as reading it first would buffer every file."""
    handler.streams_files = True
    return handler


@web.middleware
async def refuse_unstorable_text(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every endpoint, present and future: a NUL (or text no database keeps) in the
    path, the query or a form is a 400 before any handler, any query, sees it."""
    problem = _text_problem(request)
    if (
        problem is None
        and request.method == "POST"
        and request.content_type in FORM_TYPES
        and not getattr(request.match_info.handler, "streams_files", False)
    ):
        problem = await _form_problem(request)
    if problem is not None:
        raise Unreadable(400, problem).answer()
    if isinstance(request.match_info.route.resource, web.StaticResource) and _unnameable(
        request.match_info.get("filename", "")
    ):
        # aiohttp asks the file system, whose "file name too long" (an OSError) it
        # would answer with a 500: a name no file can have is simply not found.
        raise web.HTTPNotFound()
    return await handler(request)


def _unnameable(filename: str) -> bool:
    """A static file's name that no file system holds (a part over 255 bytes)."""
    return any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in filename.split("/"))

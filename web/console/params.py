"""The console's query parameters as typed values within ranges: the one place a page's
``?page=``, ``?since=``/``?until=`` and search words are read.

A value out of range is brought into it where the meaning stays the same (page 10**20
is past the last page either way; a day before 1970 or after 2999 finds the same chats
as the range's edge), so no arithmetic on it can overflow into a 500. A value that
cannot mean anything (a day that is not ``YYYY-MM-DD``, a page that is not a number,
a search longer than anything stored, text no database keeps) is a 400 with the
parameter's name.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from web.inputs import Unreadable, unstorable

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)
LAST_PAGE = 100_000
SEARCH_LIMIT = 200


def _refused(name: str, why: str) -> web.HTTPException:
    return Unreadable(400, f"'{name}' {why}").answer()


def page_number(request: web.Request, name: str = "page") -> int:
    """A page number from 1 to ``LAST_PAGE`` (1 when not given)."""
    raw = request.query.get(name, "").strip()
    if not raw:
        return 1
    if not (raw.isascii() and raw.lstrip("-").isdigit()) or len(raw) > 100:
        raise _refused(name, "must be a page number")
    return min(max(int(raw), 1), LAST_PAGE)


def day(request: web.Request, name: str) -> date | None:
    """A day (``YYYY-MM-DD``) between ``FIRST_DAY`` and ``LAST_DAY``; None when not given."""
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        found = date.fromisoformat(raw)
    except ValueError:
        raise _refused(name, "must be a day as YYYY-MM-DD") from None
    return min(max(found, FIRST_DAY), LAST_DAY)


def search_text(request: web.Request, name: str) -> str:
    """Words to search for, trimmed: at most ``SEARCH_LIMIT`` characters of storable text."""
    raw = request.query.get(name, "").strip()
    if len(raw) > SEARCH_LIMIT:
        raise _refused(name, f"is longer than {SEARCH_LIMIT} characters")
    problem = unstorable(raw)
    if problem:
        raise _refused(name, problem)
    return raw


# Row ids are INTEGER columns: 32 bits on PostgreSQL, where a larger number in a query
# is an error of the driver (a 500), not "no such row".
LAST_ROW_ID = 2**31 - 1


def row_id(raw: object) -> int | None:
    """A row id given in a form (an agent to pick): a positive number within the
    column's range, else None (no such row)."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= LAST_ROW_ID else None

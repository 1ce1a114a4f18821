"""Files and images in messages: which can be passed on, and how they are shown.

A file is passed on as a link its receiver can open: the ``contentUrl`` of a customer's
attachment (Web Chat, Direct Line and the Emulator upload to a URL), or the
``downloadUrl`` of a file an agent attached in Teams. Pictures pasted into a Teams
message live behind the bot's own credentials, inline ``data:`` content cannot be
linked, and cards are not files: those are refused, and the sender is told so.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from cards.markdown import checked_url, message_link, message_text

TEAMS_FILE = "application/vnd.microsoft.teams.file.download.info"
# Teams copies the message itself into a text/html attachment: that is the text, not a file.
MESSAGE_COPIES = frozenset({"text/html"})
NAME_LIMIT = 200
FILE_MARK = "📎"


@dataclass(frozen=True)
class Files:
    """The files of one message: those to pass on, and the names of those refused."""

    passed: tuple[dict[str, str], ...]
    refused: tuple[str, ...]


def _name(attachment: dict[str, Any], url: str) -> str:
    name = attachment.get("name")
    if not isinstance(name, str) or not name.strip():
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if url else ""
    return (name.strip() or "file")[:NAME_LIMIT]


def _linkable(url: object) -> bool:
    return checked_url(url) is not None


def read_files(activity: dict[str, Any], *, from_teams: bool, limit: int) -> Files:
    """Sort a message's attachments into files to pass on and refused ones (by name)."""
    passed: list[dict[str, str]] = []
    refused: list[str] = []
    for attachment in activity.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        kind = str(attachment.get("contentType") or "")
        if kind in MESSAGE_COPIES:
            continue
        content = attachment.get("content")
        url: object = attachment.get("contentUrl")
        if kind == TEAMS_FILE and isinstance(content, dict):
            url = content.get("downloadUrl")
        name = _name(attachment, url if isinstance(url, str) else "")
        pasted_picture = from_teams and kind.startswith("image/")
        if pasted_picture or not _linkable(url) or len(passed) >= limit:
            refused.append(name)
            continue
        assert isinstance(url, str)
        if kind == TEAMS_FILE or not kind:
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        passed.append({"name": name, "url": url, "contentType": kind})
    return Files(tuple(passed), tuple(refused))


def links(files: tuple[dict[str, str], ...]) -> str:
    """The files as Markdown links for a Teams message, one line: each built from its
    checked URL with its name as escaped text (a name or URL cannot make another link)."""
    return " ".join(f"{FILE_MARK} {message_link(f['name'], f['url'])}" for f in files)


def names(refused: tuple[str, ...]) -> str:
    """Refused files' names for a message, escaped."""
    return ", ".join(message_text(name) for name in refused)


def stored_text(text: str, files: tuple[dict[str, str], ...]) -> str:
    """What the transcript and the card keep as the message's text when it has none."""
    return text or " ".join(f"{FILE_MARK} {f['name']}" for f in files)


def as_attachments(files: tuple[dict[str, str], ...], *, images_only: bool) -> list[dict[str, str]]:
    """Bot Framework attachments of the files (Teams shows linked images inline)."""
    return [
        {"contentType": f["contentType"], "contentUrl": f["url"], "name": f["name"]}
        for f in files
        if not images_only or f["contentType"].startswith("image/")
    ]

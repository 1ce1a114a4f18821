"""The Teams app package (``support-bridge teams-package``): manifest, texts and icons.

Everything comes from the settings (app id, public host, name, accent colour) and the
locale files, so an administrator uploads one zip instead of filling placeholders and
drawing icons. The manifest declares version 1.19: resource-specific consent there
needs ``webApplicationInfo`` beside the permission, or Teams may never deliver the
channel messages that agents send without an @mention.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw, ImageFont

from bot.settings import Settings
from dialogs.extension import SEARCH_COMMAND
from dialogs.i18n import Texts
from dialogs.table import MENU

MANIFEST_VERSION = "1.19"
SCHEMA_BASE = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}"
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "vi")
# Resource-specific consent: the bot reads every message of the team's channels, so
# agents' replies in a chat's thread reach it without an @mention.
RSC_PERMISSION = "ChannelMessage.Read.Group"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
COLOR_SIZE = 192
OUTLINE_SIZE = 32


class PackageRefused(ValueError):
    """The settings cannot make a package Teams would accept; the message says why."""


def _version() -> str:
    try:
        return metadata.version("support-bridge")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0.1.0"


def _host(settings: Settings) -> str:
    return urlsplit(settings.public_url).hostname or ""


def check(settings: Settings) -> None:
    """Refuse, with the reason, what Teams would refuse later with a vaguer one (each
    value's own form is the settings model's: a GUID, a colour, a version)."""
    problems = []
    if not settings.app_id:
        problems.append("MicrosoftAppId is empty (the bot's app id names the Teams app)")
    parts = urlsplit(settings.public_url)
    if parts.scheme != "https" or (parts.hostname or "localhost") in LOCAL_HOSTS:
        problems.append(
            f"PUBLIC_URL {settings.public_url!r} is not a public https URL "
            "(Teams opens transcript links and checks the app's domain)"
        )
    if problems:
        raise PackageRefused("; ".join(problems))


def _strings(texts: Texts, name: str) -> dict[str, str]:
    """The manifest's translatable strings in one language, keyed as localization files are."""
    strings = {
        "name.short": name,
        "name.full": texts("teams.name_full", name=name),
        "description.short": texts("teams.description_short"),
        "description.full": texts("teams.description_full"),
    }
    for n, key in enumerate(MENU.values()):
        strings[f"bots[0].commandLists[0].commands[{n}].description"] = texts(key)
    search = "composeExtensions[0].commands[0]"
    strings[f"{search}.title"] = texts("teams.search.title")
    strings[f"{search}.description"] = texts("teams.search.description")
    strings[f"{search}.parameters[0].title"] = texts("teams.search.parameter_title")
    strings[f"{search}.parameters[0].description"] = texts("teams.search.parameter_description")
    return strings


def localization(settings: Settings, language: str) -> dict[str, Any]:
    return {
        "$schema": f"{SCHEMA_BASE}/MicrosoftTeams.Localization.schema.json",
        **_strings(Texts(language), settings.teams_app_name),
    }


def manifest(settings: Settings) -> dict[str, Any]:
    check(settings)
    app_id = settings.app_id
    text = _strings(Texts(DEFAULT_LANGUAGE), settings.teams_app_name)
    search = "composeExtensions[0].commands[0]"
    site = settings.public_url.rstrip("/")
    return {
        "$schema": f"{SCHEMA_BASE}/MicrosoftTeams.schema.json",
        "manifestVersion": MANIFEST_VERSION,
        "version": settings.teams_app_version or _version(),
        "id": app_id,
        "localizationInfo": {
            "defaultLanguageTag": DEFAULT_LANGUAGE,
            "defaultLanguageFile": f"{DEFAULT_LANGUAGE}.json",
            "additionalLanguages": [
                {"languageTag": language, "file": f"{language}.json"}
                for language in LANGUAGES
                if language != DEFAULT_LANGUAGE
            ],
        },
        "developer": {
            "name": (settings.teams_developer_name or settings.teams_app_name)[:32],
            "websiteUrl": site,
            "privacyUrl": settings.privacy_url or site,
            "termsOfUseUrl": settings.terms_url or site,
        },
        "name": {"short": text["name.short"], "full": text["name.full"]},
        "description": {
            "short": text["description.short"],
            "full": text["description.full"],
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": settings.teams_accent_color.upper(),
        "bots": [
            {
                "botId": app_id,
                "scopes": ["team", "personal"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": ["team"],
                        "commands": [
                            {
                                "title": word,
                                "description": text[
                                    f"bots[0].commandLists[0].commands[{n}].description"
                                ],
                            }
                            for n, word in enumerate(MENU)
                        ],
                    }
                ],
            }
        ],
        "composeExtensions": [
            {
                "botId": app_id,
                "commands": [
                    {
                        "id": SEARCH_COMMAND,
                        "type": "query",
                        "title": text[f"{search}.title"],
                        "description": text[f"{search}.description"],
                        "initialRun": True,
                        "context": ["compose", "commandBox"],
                        "parameters": [
                            {
                                "name": "query",
                                "title": text[f"{search}.parameters[0].title"],
                                "description": text[f"{search}.parameters[0].description"],
                                "inputType": "text",
                            }
                        ],
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [_host(settings)],
        "webApplicationInfo": {"id": app_id, "resource": f"api://botid-{app_id}"},
        "authorization": {
            "permissions": {"resourceSpecific": [{"name": RSC_PERMISSION, "type": "Application"}]}
        },
    }


def _latin(text: str) -> str:
    """Letters without their marks (``Đội ứng cứu`` -> ``Doi ung cuu``): the icons' font
    has the Latin alphabet only, and a missing glyph would draw a box."""
    folded = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in folded if c.isascii())


def initials(name: str) -> str:
    """``Support Bridge`` -> ``SB``; one word -> its first two letters; marks dropped."""
    words = [w for w in re.split(r"[\W_]+", _latin(name)) if w]
    if not words:
        return "SB"  # nothing drawable (a name in another script): the product's initials
    letters = "".join(w[0] for w in words[:2]) if len(words) > 1 else words[0][:2]
    return letters.upper()


def _letters(size: int, text: str, fill: float) -> Image.Image:
    """A mask (mode L) with ``text`` centred, about ``fill`` of the icon high."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    font = ImageFont.load_default(size=max(8, int(size * fill)))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    width, height = right - left, bottom - top
    scale = min(1.0, size * 0.86 / max(width, 1))
    if scale < 1.0:
        font = ImageFont.load_default(size=max(8, int(size * fill * scale)))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        width, height = right - left, bottom - top
    draw.text(((size - width) / 2 - left, (size - height) / 2 - top), text, font=font, fill=255)
    return mask


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def color_icon(name: str, accent: str) -> bytes:
    """192x192: white initials on the accent colour (Teams' full-colour icon)."""
    image = Image.new("RGBA", (COLOR_SIZE, COLOR_SIZE), accent)
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    image.paste(white, (0, 0), _letters(COLOR_SIZE, initials(name), 0.5))
    return _png(image)


def outline_icon(name: str) -> bytes:
    """32x32: white initials on transparent (Teams tints it; any other colour is refused).

    Every pixel is white; only the alpha channel draws, so anti-aliased edges stay white
    instead of turning grey.
    """
    image = Image.new("RGBA", (OUTLINE_SIZE, OUTLINE_SIZE), (255, 255, 255, 0))
    image.putalpha(_letters(OUTLINE_SIZE, initials(name), 0.55))
    return _png(image)


def files(settings: Settings) -> dict[str, bytes]:
    """Every file of the package, by its name in the zip."""

    def as_json(value: dict[str, Any]) -> bytes:
        return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    found = {"manifest.json": as_json(manifest(settings))}
    for language in LANGUAGES:
        found[f"{language}.json"] = as_json(localization(settings, language))
    found["color.png"] = color_icon(settings.teams_app_name, settings.teams_accent_color)
    found["outline.png"] = outline_icon(settings.teams_app_name)
    return found


def write(settings: Settings, out: Path) -> Path:
    """Write the zip (files at its root, as Teams wants them); returns the path."""
    contents = files(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for name, data in contents.items():
            package.writestr(name, data)
    return out

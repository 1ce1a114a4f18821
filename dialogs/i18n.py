"""Texts in the customer's or the team's language, from the locale files."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).with_name("locales")


@cache
def languages() -> tuple[str, ...]:
    """The languages there is a locale file for (read once)."""
    return tuple(sorted(p.stem for p in LOCALES.glob("*.json")))


@cache
def catalog(language: str) -> dict[str, str]:
    if language not in languages():
        return {}
    return json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))


def pick_language(locale: str | None, default: str) -> str:
    """``vi-VN`` -> ``vi``; an unknown language (or anything that is not a tag) -> default."""
    if not isinstance(locale, str):
        return default
    language = locale.replace("_", "-").split("-", 1)[0].lower()
    return language if language in languages() else default


class Texts:
    """One language's texts; a key missing there falls back to English, then to the key."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._own = catalog(language)
        self._fallback = catalog("en")

    def __call__(self, key: str, **values: Any) -> str:
        template = self._own.get(key) or self._fallback.get(key) or key
        return template.format(**values) if values else template


# The name ``@Bot setup`` gives a department when none is given (English, as stored).
DEFAULT_DEPARTMENT_NAME = "Support"


def department_name(name: str, names: dict[str, str] | None, t: Texts) -> str:
    """A department's name in the reader's language: its own name for that language where
    one is set (``Department.names``); the default department's in the locale's words;
    else its name as the team wrote it."""
    given = (names or {}).get(t.language)
    if isinstance(given, str) and given.strip():
        return given
    if name == DEFAULT_DEPARTMENT_NAME:
        return t("department.default_name")
    return name

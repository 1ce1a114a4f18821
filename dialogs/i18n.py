"""Texts in the customer's or the team's language, from the locale files."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).with_name("locales")


@cache
def catalog(language: str) -> dict[str, str]:
    path = LOCALES / f"{language}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def languages() -> list[str]:
    return sorted(p.stem for p in LOCALES.glob("*.json"))


def pick_language(locale: str | None, default: str) -> str:
    """``vi-VN`` -> ``vi``; an unknown language falls back to the default."""
    language = (locale or "").replace("_", "-").split("-", 1)[0].lower()
    return language if language and catalog(language) else default


class Texts:
    """One language's texts; a key missing there falls back to English, then to the key."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._own = catalog(language)
        self._fallback = catalog("en")

    def __call__(self, key: str, **values: Any) -> str:
        template = self._own.get(key) or self._fallback.get(key) or key
        return template.format(**values) if values else template

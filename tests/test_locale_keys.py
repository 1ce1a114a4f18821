"""Locale keys, checked both ways: every key the code names exists in both languages, and
every key of the locale files is named by the code, in full (no key built from pieces,
so a search finds each text's users and a missing one fails here, not in front of an
agent as a raw key)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "dialogs" / "locales"
# Where texts are named (the store names none: it says what happened, not how it reads).
SOURCES = ("app.py", "bot", "dialogs", "cards", "web")
# A string literal that reads like a key: two words or more joined by dots (not a file).
LITERAL = re.compile(r"""["']([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?<!\.html)(?<!\.js)["']""")
# A key built from pieces: "refusal." + reason, f"offer.{kind}.title", "day_" ~ n.
BUILT = re.compile(r"""(?:f["'][a-z_]+\.[a-z0-9_.]*\{|["'][a-z_]+\.[a-z0-9_.]*["']\s*[+~])""")


def _catalog(language: str) -> dict[str, str]:
    return json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))


def _sources() -> dict[str, str]:
    paths = [ROOT / "app.py"] + [
        path
        for folder in SOURCES[1:]
        for pattern in ("*.py", "*.html", "*.js")
        for path in (ROOT / folder).rglob(pattern)
    ]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}


def test_both_languages_have_the_same_keys() -> None:
    assert set(_catalog("en")) ^ set(_catalog("vi")) == set()


def test_every_key_the_code_names_exists() -> None:
    keys = set(_catalog("en"))
    namespaces = {key.split(".", 1)[0] for key in keys}
    unknown = {
        (path, found)
        for path, text in _sources().items()
        for found in LITERAL.findall(text)
        if found.split(".", 1)[0] in namespaces and found not in keys
    }
    assert unknown == set()


def test_every_key_is_named_in_full_by_the_code() -> None:
    """No unused key, and none reached only through a string built at run time."""
    text = "\n".join(_sources().values())
    named = set(LITERAL.findall(text))
    assert sorted(set(_catalog("en")) - named) == []


def test_no_key_is_built_from_pieces() -> None:
    keys = set(_catalog("en"))
    namespaces = {key.split(".", 1)[0] for key in keys}
    built = [
        (path, match.group(0))
        for path, text in _sources().items()
        for match in BUILT.finditer(text)
        if re.sub(r"^f?[\"']", "", match.group(0)).split(".", 1)[0] in namespaces
    ]
    assert built == []

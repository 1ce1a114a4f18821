"""``vi.json`` held to ``docs/glossary.md``: one Vietnamese word per thing, customers
addressed as "Quý khách", and no promise the team cannot keep."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dialogs.i18n import catalog

GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"
ADDRESS_ROW = "customer (spoken to)"


def glossary() -> list[tuple[str, str, list[str]]]:
    """(English, Vietnamese, words not to use) for each row of the glossary's table."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("English", "") or set(cells[0]) <= {"-"}:
            continue
        avoid = [w.strip() for w in cells[2].split(",") if w.strip()]
        rows.append((cells[0], cells[1], avoid))
    return rows


# Placeholders and commands ("{agent}", "**@{bot} tags add**") are not Vietnamese words.
_NOT_WORDS = re.compile(r"\{[^}]*\}|\*\*[@/][^*]*\*\*")


def _words(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE)


def test_the_glossary_has_the_terms_the_issue_names() -> None:
    terms = {english: vietnamese for english, vietnamese, _ in glossary()}
    assert terms["tag"] == "nhãn" and terms["card (Adaptive Card)"] == "thẻ"
    for english in ("supervisor", "department", "chat", "close (a chat)"):
        assert terms[english], english
    assert terms[ADDRESS_ROW] == "Quý khách"


@pytest.mark.parametrize(("english", "vietnamese", "avoid"), glossary())
def test_vi_uses_the_glossary_word(english: str, vietnamese: str, avoid: list[str]) -> None:
    texts = catalog("vi")
    if english == ADDRESS_ROW:
        texts = {k: v for k, v in texts.items() if k.startswith("customer.")}
    used = re.compile(re.escape(vietnamese), re.IGNORECASE)
    for key, text in texts.items():
        # The right word may contain a wrong one ("giám sát viên" contains "giám sát").
        rest = used.sub(" ", _NOT_WORDS.sub(" ", text))
        for word in avoid:
            assert not _words(word).search(rest), f"{key}: {word!r} instead of {vietnamese!r}"


def test_tags_are_nhan_and_never_the_word_for_card() -> None:
    for key, text in catalog("vi").items():
        if key.startswith("tags.") or key in ("card.tags", "card.tag", "transcript.tags"):
            assert "thẻ" not in text.lower(), key


def test_customers_are_addressed_as_quy_khach_and_promised_nothing_at_once() -> None:
    customer = {k: v for k, v in catalog("vi").items() if k.startswith("customer.")}
    addressed = [k for k, v in customer.items() if "Quý khách" in v]
    assert len(addressed) >= len(customer) - 2, set(customer) - set(addressed)
    for key, text in customer.items():
        assert not _words("ngay").search(text), key
        assert "không quên" not in text, key
    for key, text in catalog("en").items():
        if key.startswith("customer."):
            assert not re.search(r"shortly|right away|immediately", text), key

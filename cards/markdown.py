"""Customers' words shown to agents, escaped so that they read as written.

Teams renders a message's text as Markdown with some HTML (``<at>`` mentions, links),
and Adaptive Cards render Markdown in text blocks. A customer's name or text put there
as is could make a bold "system" line, a fake mention or a link whose text hides its
target; escaped, it shows exactly the characters the customer typed.
"""

from __future__ import annotations

import html
import re

# Markdown's inline punctuation, anywhere in the text.
_INLINE = re.compile(r"([\\`*_\[\]()~|!{}])")
# Block markers that only count at the start of a line: headings, quotes, list items.
_LINE_START = re.compile(r"^(\s*)(#|>|-|\+|\d+(?=[.)]))", re.MULTILINE)


def card_text(value: str) -> str:
    """``value`` for an Adaptive Card text block or fact: Markdown shown literally."""
    escaped = _INLINE.sub(r"\\\1", value)
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}", escaped)


def message_text(value: str) -> str:
    """``value`` for a Teams message's text: Markdown and HTML shown literally."""
    return html.escape(card_text(value), quote=False)

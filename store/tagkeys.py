"""Tag names in any script, and the key that finds them from a plain keyboard.

"hóa-đơn" is a good tag in a Vietnamese team; an agent without Vietnamese input types
"hoa-don". Both name the same tag: its key drops the marks (and maps đ to d) and the
case. Two tags of one department may not share a key.
"""

from __future__ import annotations

import re
import unicodedata

TAG_LIMIT = 32
# Letters and digits of any script, "-" and "_"; no spaces (tags are typed as words).
_TAG = re.compile(rf"[\w-]{{1,{TAG_LIMIT}}}")


def tag_name(typed: str) -> str:
    """A typed tag as stored and shown: composed (NFC) and lower-case."""
    return unicodedata.normalize("NFC", typed.strip()).lower()


def valid_tag(name: str) -> bool:
    return _TAG.fullmatch(name) is not None


def tag_key(name: str) -> str:
    """ "Hóa-Đơn" -> "hoa-don": no marks, no case."""
    plain = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold()

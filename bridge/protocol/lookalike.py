"""Look-alike characters: text that reads as `@agent` or a verb but is spelled with other code points."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

PROBE = 64
# Unicode category Cf (format characters: zero-width spaces and joiners, direction marks, tags).
INVISIBLE = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
AT_SIGNS = "@\ufe6b\uff20"  # "@" and the characters NFKC folds to it

# Letters that render like the Latin ones a command is spelled with (Cyrillic, Greek, Armenian, IPA).
CONFUSABLES = str.maketrans(
    {
        "а": "a", "ɑ": "a", "α": "a", "А": "a", "Α": "a",
        "с": "c", "ϲ": "c", "С": "c",
        "ԁ": "d",
        "е": "e", "ё": "e", "ε": "e", "Е": "e", "Ε": "e",
        "ɡ": "g", "ց": "g",
        "һ": "h", "Н": "h", "Η": "h",
        "і": "i", "ι": "i", "І": "i", "Ι": "i",
        "ј": "j",
        "к": "k", "κ": "k", "К": "k", "Κ": "k",
        "ӏ": "l",
        "м": "m", "М": "m", "Μ": "m",
        "п": "n", "ո": "n", "η": "n", "Ν": "n",
        "о": "o", "ο": "o", "О": "o", "Ο": "o", "օ": "o",
        "р": "p", "ρ": "p", "Р": "p", "Ρ": "p",
        "ѕ": "s",
        "т": "t", "τ": "t", "Т": "t", "Τ": "t",
        "υ": "u", "ս": "u",
        "ν": "v", "ѵ": "v",
        "х": "x", "χ": "x", "Х": "x", "Χ": "x",
        "у": "y", "γ": "y", "У": "y", "Υ": "y",
    }
)


def skeleton(text: str) -> str:
    """What a short text looks like: compatibility forms folded, invisible characters dropped, look-alikes mapped."""
    folded = unicodedata.normalize("NFKC", text[:PROBE])
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return visible.translate(CONFUSABLES).lower().translate(CONFUSABLES)


def mimicked(line: str, tags: Iterable[str]) -> str | None:
    """The tag (`@agent`, `@critic`, …) the line would start with once look-alike characters are read as what they mimic."""
    shape = skeleton(line.lstrip()).lstrip()
    for tag in tags:
        after = shape[len(tag) : len(tag) + 1]
        if shape.startswith(tag) and (not after or after.isspace() or after == "["):
            return tag
    return None

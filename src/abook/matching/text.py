"""Text folding and small helpers the rest of matching builds on.

Case, accents, HTML entities, quotes and dashes (:func:`fold`), a difflib character
similarity with cheap early exits (:func:`similarity`, ``_ratio``), number words and
roman numerals (``_number``, ``_roman``)."""

from __future__ import annotations

import html
import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache
from threading import get_ident

# --------------------------------------------------------------------------------------------
# Folding and small helpers
# --------------------------------------------------------------------------------------------

_PUNCT_MAP = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "`": "'",
        "\u00b4": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
# Letters NFKD leaves alone but readers treat as plain ASCII.
_LETTER_MAP = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ð": "d",
        "Ð": "D",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
    }
)


def _unaccent(s: str) -> str:
    """HTML-unescape (twice: trackers double-escape), unify quotes/dashes, drop accents."""
    if not s:
        return ""
    if "&" in s:
        s = html.unescape(html.unescape(s))
    if s.isascii():  # the common case: nothing to decompose
        return s.replace("`", "'") if "`" in s else s
    s = s.translate(_PUNCT_MAP)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return s.translate(_LETTER_MAP)


def fold(s: str) -> str:
    """Case-, accent- and entity-insensitive form of ``s`` (whitespace collapsed)."""
    if not s:
        return ""
    return " ".join(_unaccent(s).casefold().split())


def similarity(a: str, b: str) -> float:
    """Character similarity 0..1 of two strings after :func:`fold` (difflib ratio)."""
    a, b = fold(a), fold(b)
    return _ratio(a, b)


def _ratio(a: str, b: str, at_least: float = 0.0) -> float:
    """difflib ratio; when ``at_least`` is given, 0.0 as soon as a cheap bound falls short."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    la, lb = len(a), len(b)
    if at_least and 2.0 * min(la, lb) / (la + lb) < at_least:
        return 0.0
    sm = _matcher(b, get_ident())  # per thread: a matcher is mutable
    sm.set_seq1(a)
    if at_least and sm.quick_ratio() < at_least:
        return 0.0
    return sm.ratio()


@lru_cache(maxsize=64)
def _matcher(b: str, thread: int) -> SequenceMatcher[str]:
    """A matcher with ``b`` indexed once: an index lookup compares one offered title with
    several candidates, and indexing the second string is most of a short comparison."""
    return SequenceMatcher(None, "", b, autojunk=False)


_NUM_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}
_TENS_WORDS = {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
# Roman numerals of two or more letters up to 39 ("ii", "iv", "xii"); single letters are too
# often words or initials ("I, Robot", "Henry V" is rare enough to lose).
_ROMAN_RE = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}


def _roman(tok: str) -> int | None:
    if len(tok) < 2 or not _ROMAN_RE.match(tok):
        return None
    total = 0
    prev = 0
    for ch in reversed(tok):
        v = _ROMAN_VALUES[ch]
        total = total - v if v < prev else total + v
        prev = max(prev, v)
    return total or None


def _number(tok: str) -> float | None:
    """A number from a digit string, a number word or a roman numeral ("ii")."""
    tok = tok.strip().lower()
    if not tok:
        return None
    try:
        return float(tok)
    except ValueError:
        pass
    if tok in _NUM_WORDS:
        return float(_NUM_WORDS[tok])
    r = _roman(tok)
    if r is None and tok in ("i",):
        r = 1
    return float(r) if r is not None else None


def _fmt_num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"

"""Is this the same work? The same recording?

Everything here is pure (no I/O) so it can be tested from tables and run over 50,000 owned books.

The shape follows beets' autotagger: strings are normalised first (case, accents, HTML entities,
punctuation, bracketed tracker tags, leading articles, "Book 2" suffixes, author initials and
name order), then a :class:`Distance` collects named, weighted penalties (title, authors,
series, narrators, identifiers, year) into one number between 0 and 1, and :func:`compare`
turns that number into a verdict with thresholds.

A few facts are stronger than any distance, because peers got them wrong:

* the same ASIN or ISBN is the same work, whatever the titles say;
* a different position in the same series is a different work ("Red Rising" #1 vs
  "Golden Son" #2), as are disjoint numbers in the titles ("The Dark Tower II" vs "III");
* a different author is a different work ("The Stand" by Stephen King vs by someone else);
* an omnibus or a summary / study guide is never the book it contains or describes.

Different ASINs, on the other hand, prove nothing: every edition and region has its own.

Verdicts are about the *work* by default. Abridged, dramatized or differently narrated editions
of an owned work are still "same" (owned); :attr:`Match.same_recording` says whether the
recording matches too, and ``compare(..., level="recording")`` makes that the question.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Literal

from abook.models import BookRef, SeriesRef

__all__ = [
    "DEFAULT_WEIGHTS",
    "EDITION_CLASSES",
    "NEAR_THRESHOLD",
    "SAME_THRESHOLD",
    "Distance",
    "LibraryIndex",
    "Match",
    "TitleParts",
    "compare",
    "edition_class",
    "fold",
    "is_primary_position",
    "language_ok",
    "name_similarity",
    "name_tokens",
    "normalize_name",
    "normalize_series",
    "normalize_title",
    "parse_position",
    "parse_title",
    "similarity",
    "split_names",
    "split_series_name",
    "title_similarity",
]

Verdict = Literal["same", "near_miss", "different"]

#: distance at or below which two books are the same work (beets' strong recommendation is 0.04
#: on a much richer record; ours has fewer fields, so a typo in the title must still pass).
SAME_THRESHOLD = 0.15
#: distance up to which a pair is a near miss: reported for a human, never acted on.
NEAR_THRESHOLD = 0.35

#: the title penalty is (1 - similarity) times this, capped at 1.
TITLE_PENALTY_SCALE = 1.6

#: whatever the other fields say, titles less similar than this are never the same work, and
#: below MIN_NEAR_TITLE not even a near miss.
MIN_SAME_TITLE = 0.75
MIN_NEAR_TITLE = 0.5

#: relative weight of each named penalty; only components both sides know take part.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "title": 4.0,
    "authors": 3.0,
    "series": 1.5,
    "narrators": 0.5,
    "ids": 0.5,
    "year": 0.25,
    "edition": 1.0,
}

EDITION_CLASSES = ("abridged", "dramatized", "omnibus", "summary")

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
    sm = SequenceMatcher(None, a, b, autojunk=False)
    if at_least and sm.quick_ratio() < at_least:
        return 0.0
    return sm.ratio()


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


# --------------------------------------------------------------------------------------------
# Series positions
# --------------------------------------------------------------------------------------------

_NUM_PAT = r"(?:\d+(?:\.\d+)?|[ivx]{1,6}|" + "|".join(_NUM_WORDS) + r")"
_POS_PREFIX = r"(?:books?|bk|vols?|volumes?|no|nos|number|numbers|#)"
_POSITION_RE = re.compile(
    rf"^(?:{_POS_PREFIX}\.?\s*)?#?\s*(?P<a>{_NUM_PAT})"
    rf"(?:\s*(?:-|to|&|and|through)\s*(?:{_POS_PREFIX}\.?\s*)?#?\s*(?P<b>{_NUM_PAT}))?"
    r"(?:\s+of\s+\d+)?$"
)


@lru_cache(maxsize=10_000)
def parse_position(s: str | None) -> tuple[float, float] | None:
    """Series position as an inclusive (low, high) range.

    "1" -> (1, 1); "2.5" -> (2.5, 2.5); "1-3" -> (1, 3); "Book 2" -> (2, 2); "#3" -> (3, 3);
    "Book One" -> (1, 1); "Books 1 to 3" -> (1, 3). Anything else -> None.
    """
    if s is None:
        return None
    if s.isdigit():  # the common case, "3"
        return (float(s), float(s))
    t = fold(str(s)).strip(" .,:;()[]")
    if not t:
        return None
    m = _POSITION_RE.match(t)
    if not m:
        return None
    lo = _number(m.group("a"))
    hi = _number(m.group("b")) if m.group("b") else lo
    if lo is None or hi is None or hi < lo:
        return None
    return (lo, hi)


def is_primary_position(s: str | None) -> bool:
    """True for a whole-number position that is not a range ("3", not "2.5", "1-3" or "")."""
    p = parse_position(s)
    return p is not None and p[0] == p[1] and p[0] == int(p[0])


def _fmt_pos(p: tuple[float, float]) -> str:
    return _fmt_num(p[0]) if p[0] == p[1] else f"{_fmt_num(p[0])}-{_fmt_num(p[1])}"


# --------------------------------------------------------------------------------------------
# Titles
# --------------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    {"the", "a", "an", "of", "and", "in", "on", "to", "for", "at", "by", "with", "or"}
)
_ARTICLES = ("the", "a", "an")

# Words that mark a bracketed/parenthesised group as a tracker or store tag, not part of a title.
_TAG_WORDS_RE = re.compile(
    r"\b(?:unabridged|abridged|audio\s*book|audiobooks?|audible|mp3|m4b|m4a|aac|flac|ogg|opus|"
    r"kbps|\d+\s*k|dramati[sz]ed|dramati[sz]ation|adaptation|graphic\s*audio|full[\s-]*cast|"
    r"radio|bbc|retail|edition|narrated|read\s+by|remaster(?:ed)?|version|cd|unknown|"
    r"multi|english|eng|original|novel|novella|a\s+novel|box(?:ed)?\s*set|omnibus|collection)\b"
)
_YEAR_RE = re.compile(r"^(?:1[5-9]|20)\d\d$")
_PART_RE = re.compile(
    r"^(?:part|pt\.?|disc|disk|cd)\s*(\d+|[ivx]+|one|two|three|four|five)\b(?:\s*of\s*\w+)?$"
)
# "(Mistborn, Book 1)", "(Mistborn #1)", "(The Expanse Series Book 1)", "(Wheel of Time 3)"
_HINT_NAMED_RE = re.compile(
    rf"^(?P<name>.+?)[\s,:;\-]+(?:{_POS_PREFIX})\.?\s*#?\s*(?P<pos>{_NUM_PAT}(?:\s*-\s*{_NUM_PAT})?)$"
)
_HINT_NAMED_BARE_RE = re.compile(r"^(?P<name>[^\d]+?)[\s,]+(?P<pos>\d+(?:\.\d+)?(?:\s*-\s*\d+)?)$")
# "Book 1", "Book One of the Wheel of Time", "Book 2 in the Xyz series"
_HINT_POS_FIRST_RE = re.compile(
    rf"^(?:{_POS_PREFIX})\.?\s*#?\s*(?P<pos>{_NUM_PAT}(?:\s*-\s*{_NUM_PAT})?)"
    r"(?:\s*(?:of|in|from)\s+(?:the\s+)?(?P<name>.+))?$"
)
# trailing "..., Book 2" / "... Vol. 3" / "... #2" on a bare title (no series name known)
_TRAILING_POS_RE = re.compile(
    rf"^(?P<title>.+?)[\s,:;\-]+(?:books?|bk|vol|volume|#)\.?\s*#?\s*(?P<pos>{_NUM_PAT}(?:\s*-\s*{_NUM_PAT})?)$"
)
_TRAILING_HASH_RE = re.compile(r"^(?P<title>.+?)\s*#\s*(?P<pos>\d+(?:\.\d+)?(?:\s*-\s*\d+)?)$")
# generic subtitles that add nothing: ": A Novel", " - A Jack Reacher Thriller", ": A Memoir"
_GENERIC_SUB_RE = re.compile(
    r"(?:\s*[:,]\s*|\s+-\s+|\s+)(?:a|an)\s+(?:[\w']+\s+){0,3}?(?:novel|novella|thriller|memoir)$"
    r"|(?:\s*[:,]\s*|\s+-\s+)(?:a|an)\s+(?:[\w']+\s+){0,3}?(?:mystery|romance|story|tale)$"
)
_TRAILING_TAG_RE = re.compile(
    r"(?:\s*[:,]\s*|\s+-\s+|\s+)(?:(?:\d+(?:st|nd|rd|th)\s+)?anniversary\s+edition|"
    r"(?:un)?abridged(?:\s+edition)?|audio\s*book|audiobook|mp3|m4b|"
    r"(?:the\s+)?(?:complete|expanded|special|collector'?s|movie\s+tie-in|tie-in)\s+edition)$"
)
_TRAILING_TAG_HINT = re.compile(r"edition|abridged|audio|mp3|m4b")
_GENERIC_SUB_HINT = re.compile(r"novel|thriller|memoir|mystery|romance|story|tale")
_BRACKET_RE = re.compile(r"\[([^\[\]]*)\]|\{([^{}]*)\}")
_PAREN_RE = re.compile(r"\(([^()]*)\)")
_TRAILING_PAREN_RE = re.compile(r"\(([^()]*)\)\s*$")
_SUBTITLE_SPLIT_RE = re.compile(r"\s*:\s*|\s+-\s+|\s*;\s*")
_TRAILING_ARTICLE_RE = re.compile(r"^(?P<body>.+?),\s*(?P<art>the|a|an)$")
_NON_WORD_RE = re.compile(r"[^\w\s]+")
_APOSTROPHE_RE = re.compile(r"(?<=\w)'(?=\w)|'")


@dataclass(frozen=True)
class TitleParts:
    """A title taken apart: comparable text plus what was stripped from it."""

    text: str  # comparable full title: main and subtitle, tags/series suffixes removed
    main: str  # comparable part before ":" / " - " (== text when there is no subtitle)
    subtitle: str  # comparable subtitle ("" when none)
    series: tuple[SeriesRef, ...] = ()  # hints taken from the title ("Mistborn, Book 1")
    tags: tuple[str, ...] = ()  # bracketed / trailing tags removed, folded ("unabridged")
    year: str = ""  # "(1965)" taken from the end of the title

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(self.text.split())


def _clean_words(s: str) -> str:
    """Lower-level cleanup of one title part: articles, '&', punctuation, number words."""
    s = s.strip(" ,.;:-")
    m = _TRAILING_ARTICLE_RE.match(s)
    if m:  # "Hobbit, The" -> "Hobbit"
        s = m.group("body")
    s = s.replace("&", " and ").replace("+", " and ")
    s = _APOSTROPHE_RE.sub("", s)
    s = _NON_WORD_RE.sub(" ", s).replace("_", " ")
    toks = s.split()
    while len(toks) > 1 and toks[0] in _ARTICLES:
        toks = toks[1:]
    # number words become digits so "Ready Player One" and "Ready Player 1" agree, and
    # "Nineteen Eighty-Four" becomes "1984"; only runs of words are merged, never digits
    out: list[str] = []
    word_num: list[int | None] = []
    for t in toks:
        w = _NUM_WORDS.get(t, _TENS_WORDS.get(t))
        if w is not None:
            prev = word_num[-1] if word_num else None
            if prev is not None and prev >= 20 and prev % 10 == 0 and 1 <= w <= 9:
                out[-1], word_num[-1] = str(prev + w), prev + w  # "eighty four" -> 84
                continue
            out.append(str(w))
            word_num.append(w)
            continue
        r = _roman(t)
        if r is not None:
            t = str(r)
        elif t.isdigit():
            t = str(int(t))  # "02" -> "2"
        out.append(t)
        word_num.append(None)
    i = 0
    while i + 1 < len(out):  # "19 84" from words -> "1984"
        x, y = word_num[i], word_num[i + 1]
        if x is not None and y is not None and 11 <= x <= 99 and 10 <= y <= 99:
            out[i : i + 2] = [f"{x}{y:02d}"]
            word_num[i : i + 2] = [None]
        i += 1
    return " ".join(out)


def _series_hint(content: str, *, bare_ok: bool) -> SeriesRef | None:
    """A series reference from "(Mistborn, Book 1)"-like text (already folded), else None."""
    c = content.strip(" ,.;:-")
    m = _HINT_POS_FIRST_RE.match(c)
    if m:
        name = (m.group("name") or "").strip()
        return SeriesRef(normalize_series(name), m.group("pos").replace(" ", ""))
    m = _HINT_NAMED_RE.match(c)
    if m:
        return SeriesRef(normalize_series(m.group("name")), m.group("pos").replace(" ", ""))
    if bare_ok:
        m = _HINT_NAMED_BARE_RE.match(c)
        if m and not _YEAR_RE.match(m.group("pos")):
            return SeriesRef(normalize_series(m.group("name")), m.group("pos").replace(" ", ""))
    return None


def _pop_groups(s: str, hints: list[SeriesRef], tags: list[str]) -> tuple[str, str]:
    """Remove bracketed tags and trailing parentheticals, recording hints/tags/year."""
    year = ""
    if "[" not in s and "{" not in s and "(" not in s:
        return s, year
    # every [...] / {...} group is tracker decoration
    for m in _BRACKET_RE.finditer(s):
        content = (m.group(1) or m.group(2) or "").strip()
        hint = _series_hint(content, bare_ok=True)
        if hint:
            hints.append(hint)
        elif _YEAR_RE.match(content):
            year = year or content
        elif content:
            tags.append(content)
    s = _BRACKET_RE.sub(" ", s).strip()
    if "(" not in s:
        return " ".join(s.split()), year
    # parenthetical groups that are tags anywhere, and any parenthetical at the end
    part_suffix = ""
    first = True
    while True:
        s = s.strip()
        m = _TRAILING_PAREN_RE.search(s) if s.endswith(")") else None
        if not m or m.start() == 0:
            break
        content = m.group(1).strip()
        # the last group goes whatever it says; earlier ones only when recognised, so that
        # "The (Very) Long (Title) (Series, Book 2)" keeps its words
        if not first and not (
            _PART_RE.match(content)
            or _series_hint(content, bare_ok=True)
            or _YEAR_RE.match(content)
            or _TAG_WORDS_RE.search(content)
        ):
            break
        first = False
        part = _PART_RE.match(content)
        if part:  # "(Part 1 of 2)": a split audiobook is not the whole work; keep it visible
            part_suffix = part_suffix or f" part {part.group(1)}"
            s = s[: m.start()]
            continue
        hint = _series_hint(content, bare_ok=True)
        if hint:
            hints.append(hint)
        elif _YEAR_RE.match(content):
            year = year or content
        elif content:
            tags.append(content)
        s = s[: m.start()]

    def _mid(m: re.Match[str]) -> str:
        if _PART_RE.match(m.group(1).strip()):
            return m.group(0)
        content = m.group(1).strip()
        if _TAG_WORDS_RE.search(content):
            tags.append(content)
            return " "
        return m.group(0)

    s = _PAREN_RE.sub(_mid, s) + part_suffix
    return " ".join(s.split()), year


def _strip_trailing_tags(s: str, tags: list[str]) -> str:
    changed = True
    while changed:
        changed = False
        tail = s[-40:]
        for rx, words in (
            (_TRAILING_TAG_RE, _TRAILING_TAG_HINT),
            (_GENERIC_SUB_RE, _GENERIC_SUB_HINT),
        ):
            if not words.search(tail):  # the full regexes are slow; most titles stop here
                continue
            m = rx.search(s)
            if m and m.start() > 0:
                tags.append(m.group(0).strip(" :,-"))
                s = s[: m.start()].rstrip()
                changed = True
    return s


@lru_cache(maxsize=200_000)
def parse_title(raw: str) -> TitleParts:
    """Take a tracker / store / library title apart.

    "Mistborn: The Final Empire (Mistborn, Book 1) [Unabridged]" gives text "mistborn final
    empire", main "mistborn", subtitle "final empire", series hint Mistborn #1, tag "unabridged".
    """
    s = fold(raw)
    hints: list[SeriesRef] = []
    tags: list[str] = []
    s, year = _pop_groups(s, hints, tags)
    s = _strip_trailing_tags(s, tags)

    # split once into main title and subtitle
    parts = _SUBTITLE_SPLIT_RE.split(s, maxsplit=1)
    main_raw = parts[0]
    sub_raw = parts[1] if len(parts) > 1 else ""
    if not main_raw.strip(" ,.;:-") and sub_raw:  # ": Title" or "- Title"
        main_raw, sub_raw = sub_raw, ""

    # "The Final Empire: Mistborn, Book 1" -> the subtitle is a series reference
    if sub_raw:
        hint = _series_hint(sub_raw, bare_ok=False)
        if hint:
            hints.append(hint)
            sub_raw = ""
    # "Book 2: The Well of Ascension" / "Mistborn Book 2 - The Well of Ascension"
    if sub_raw:
        hint = _series_hint(main_raw, bare_ok=False)
        if hint:
            hints.append(hint)
            main_raw, sub_raw = sub_raw, ""
    # "Mistborn, Book 2" / "Mistborn #2" at the end of a title with no subtitle
    if not sub_raw:
        m = _TRAILING_POS_RE.match(main_raw) or _TRAILING_HASH_RE.match(main_raw)
        if m and parse_position(m.group("pos")):
            hints.append(SeriesRef("", m.group("pos").replace(" ", "")))
            main_raw = m.group("title")
    else:
        sub_raw = _strip_trailing_tags(sub_raw, tags)
        m = _TRAILING_POS_RE.match(sub_raw) or _TRAILING_HASH_RE.match(sub_raw)
        if m and parse_position(m.group("pos")):
            hints.append(SeriesRef("", m.group("pos").replace(" ", "")))
            sub_raw = m.group("title")

    main = _clean_words(main_raw)
    sub = _clean_words(sub_raw)
    if not main and sub:
        main, sub = sub, ""
    if not main:  # a title that is nothing but a tag: keep something comparable
        main = _clean_words(fold(raw))
    text = f"{main} {sub}".strip()
    return TitleParts(
        text=text, main=main, subtitle=sub, series=tuple(hints), tags=tuple(tags), year=year
    )


def normalize_title(s: str) -> str:
    """Comparable form of a title (see :func:`parse_title`); "" for an empty title."""
    return parse_title(s or "").text if (s or "").strip() else ""


_SERIES_SUFFIX_RE = re.compile(
    r"\s+(?:series|saga|trilogy|sequence|quartet|duology|novels|books|universe)$"
)


@lru_cache(maxsize=100_000)
def normalize_series(s: str) -> str:
    """Comparable series name: "The Red Rising Saga" -> "red rising"."""
    t = fold(s)
    t = re.sub(r"\([^()]*\)|\[[^\[\]]*\]", " ", t)
    t = _clean_words(t)
    prev = None
    while prev != t:
        prev = t
        t = _SERIES_SUFFIX_RE.sub("", t)
    return t


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_NAME_SUFFIXES = frozenset(
    {
        "jr",
        "sr",
        "ii",
        "iii",
        "iv",
        "phd",
        "md",
        "dr",
        "esq",
        "prof",
        "sir",
        "dame",
        "mr",
        "mrs",
        "ms",
    }
)
_NAME_PARTICLES = frozenset(
    {
        "le",
        "la",
        "de",
        "du",
        "van",
        "von",
        "der",
        "den",
        "da",
        "di",
        "del",
        "della",
        "des",
        "st",
        "mac",
        "ben",
        "bin",
        "al",
        "el",
        "ten",
        "ter",
        "dos",
        "das",
        "lo",
        "ibn",
    }
)
_NO_AUTHOR = frozenset(
    {"", "unknown", "various", "various authors", "anonymous", "anon", "na", "n a"}
)
_ROLE_RE = re.compile(
    r"\s*(?:\([^()]*\)|\[[^\[\]]*\]|\s-\s*(?:translator|editor|narrator|foreword|introduction).*)"
)


_NAME_SPLIT_RE = re.compile(r"[\s.\-]+")
_NAME_JUNK_RE = re.compile(r"[^\w]|_")


def _is_suffix(part: str) -> bool:
    return fold(part).strip(". ") in _NAME_SUFFIXES


@lru_cache(maxsize=200_000)
def name_tokens(s: str) -> tuple[str, ...]:
    """Tokens of a person's name in "given ... family" order, initials as single letters.

    "Sanderson, Brandon" -> ("brandon", "sanderson"); "J.R.R. Tolkien", "J. R. R. Tolkien" and
    "JRR Tolkien" -> ("j", "r", "r", "tolkien"); "(translator)"-style roles and Jr./Sr. dropped.
    """
    s = _unaccent(s or "")
    if "(" in s or "[" in s or " -" in s:
        s = _ROLE_RE.sub(" ", s)
    if "," in s:
        parts = [p.strip() for p in s.split(",") if p.strip()]
        parts = [p for p in parts if not _is_suffix(p)]
        # "Le Guin, Ursula K." -> "Ursula K. Le Guin"
        s = f"{parts[1]} {parts[0]}" if len(parts) == 2 else " ".join(parts)
    whole_upper = s.upper() == s
    toks: list[str] = []
    for raw in _NAME_SPLIT_RE.split(s):
        if not raw.isalnum():
            raw = _NAME_JUNK_RE.sub("", raw)
        if not raw:
            continue
        if not whole_upper and raw.isalpha() and raw.isupper() and 2 <= len(raw) <= 3:
            toks.extend(raw.lower())  # "JRR" -> j r r
            continue
        t = raw.casefold()
        if t in _NAME_SUFFIXES and toks:
            continue
        toks.append(t)
    return tuple(toks)


def normalize_name(s: str) -> str:
    """Comparable form of a person's name (see :func:`name_tokens`)."""
    return " ".join(name_tokens(s))


def _match_tokens(a: list[str], b: list[str], min_ratio: float) -> tuple[int, list[str], list[str]]:
    """Pair equal tokens, then near-equal ones; return (matched, rest of a, rest of b)."""
    rest_b = list(b)
    rest_a: list[str] = []
    matched = 0
    for t in a:
        if t in rest_b:
            rest_b.remove(t)
            matched += 1
        else:
            rest_a.append(t)
    if rest_a and rest_b:
        still: list[str] = []
        for t in rest_a:
            best, best_r = None, min_ratio
            for u in rest_b:
                if min(len(t), len(u)) < 4 or len(set(t).symmetric_difference(u)) > 4:
                    continue
                r = _ratio(t, u, best_r)
                if r >= best_r:
                    best, best_r = u, r
            if best is None:
                still.append(t)
            else:
                rest_b.remove(best)
                matched += 1
        rest_a = still
    return matched, rest_a, rest_b


def _initials_conflict(ia: list[str], ib: list[str]) -> bool:
    """Initials on both sides that neither contains: "R. F." vs "T. F." are other people."""
    if not ia or not ib:
        return False
    ca, cb = Counter(ia), Counter(ib)
    return bool(ca - cb) and bool(cb - ca)


@lru_cache(maxsize=200_000)
def _name_sim_tokens(ta: tuple[str, ...], tb: tuple[str, ...]) -> float:
    if not ta or not tb:
        return 0.0
    if ta == tb or sorted(ta) == sorted(tb):
        return 1.0
    fa = [t for t in ta if len(t) > 1]
    fb = [t for t in tb if len(t) > 1]
    ia = [t for t in ta if len(t) == 1]
    ib = [t for t in tb if len(t) == 1]
    if fa and fb:
        # spacing differences and typos: "LeGuin" vs "Le Guin", "Sandersen" vs "Sanderson"
        ca, cb = "".join(fa), "".join(fb)
        if ca == cb or "".join(sorted(fa)) == "".join(sorted(fb)):
            if _initials_conflict(ia, ib):
                return 0.4
            return 1.0 if ia == ib else 0.95
    matched, ua, ub = _match_tokens(fa, fb, 0.85)
    if matched == 0:
        if fa and fb and _ratio(" ".join(fa), " ".join(fb), 0.92) >= 0.92:
            return 0.9  # "Sanderson Brandon" typo'd beyond token repair but plainly the same
        return 0.0
    # full names on one side explained by initials on the other ("J. Tolkien" ~ "John Tolkien")
    ib_left = list(ib)
    for t in list(ua):
        if t[0] in ib_left:
            ib_left.remove(t[0])
            ua.remove(t)
    ia_left = list(ia)
    for t in list(ub):
        if t[0] in ia_left:
            ia_left.remove(t[0])
            ub.remove(t)
    explained = len(ia_left) < len(ia) or len(ib_left) < len(ib)
    if not ua and not ub:
        if _initials_conflict(ia_left, ib_left):
            return 0.4  # "R. F. Kuang" vs "T. F. Kuang": different people
        if ia == ib:
            return 1.0
        return 0.9 if explained else 0.95  # a dropped middle initial
    if ua and ub:
        if len(ua) == len(ub) and all(
            any(sorted(x) == sorted(y) or _ratio(x, y, 0.7) >= 0.7 for y in ub) for x in ua
        ):
            return 0.8  # a slip in one name on a tracker: "Andy Wier" for "Andy Weir"
        return 0.4 * matched / (matched + max(len(ua), len(ub)))
    # an extra full name on one side only: "Stephen Edwin King" vs "Stephen King" is fine,
    # "Christopher Tolkien" vs "Tolkien" is another person as often as not.
    return 0.85 if matched >= 2 else 0.5


def name_similarity(a: str, b: str) -> float:
    """0..1: same person? Order, initials, accents, middle initials and Jr./Sr. tolerated."""
    return _name_sim_tokens(name_tokens(a), name_tokens(b))


def _names_similarity(a: tuple[tuple[str, ...], ...], b: tuple[tuple[str, ...], ...]) -> float:
    """Best pairing between two name lists: one shared author is enough."""
    best = 0.0
    for x in a:
        for y in b:
            s = _name_sim_tokens(x, y)
            if s > best:
                best = s
                if best == 1.0:
                    return best
    return best


# --------------------------------------------------------------------------------------------
# Splitting ABS strings
# --------------------------------------------------------------------------------------------


def _series_split_part(text: str) -> SeriesRef:
    m = re.match(r"^(?P<name>.*?)\s+#\s*(?P<seq>[^\s#]+)$", text)
    if m and m.group("name").strip():
        return SeriesRef(m.group("name").strip(), m.group("seq"))
    return SeriesRef(text.strip(), None)


def split_series_name(series_name: str, known: Iterable[str] = ()) -> list[SeriesRef]:
    """Parse ABS's minified ``seriesName`` ("Mistborn #1, The Cosmere") into series refs.

    ABS joins "name #sequence" entries with ", ", so a comma inside a series name is ambiguous;
    splits whose parts are ``known`` series names win, otherwise every comma separates.
    """
    s = " ".join((series_name or "").split())
    if not s:
        return []
    parts = [p.strip() for p in s.split(",")]
    parts = [p for p in parts if p]
    known_keys = {normalize_series(k) for k in known if k and k.strip()}
    known_keys.discard("")
    n = len(parts)
    # best[i] = (score, groups) for parts[:i]
    best: list[tuple[float, list[SeriesRef]] | None] = [None] * (n + 1)
    best[0] = (0.0, [])
    for i in range(1, n + 1):
        for j in range(i - 1, -1, -1):
            prev = best[j]
            if prev is None:
                continue
            group = parts[j:i]
            # a "#seq" can only end a group
            if any(re.search(r"\s#\s*[^\s#]+$", p) for p in group[:-1]):
                break
            ref = _series_split_part(", ".join(group))
            if not ref.name:
                continue
            is_known = normalize_series(ref.name) in known_keys
            if is_known:
                score = 10.0 * len(group)  # a known name covering more parts wins
            elif len(group) == 1:
                score = 1.0
            else:
                continue  # never join unknown parts
            total = prev[0] + score
            cur = best[i]
            if cur is None or total > cur[0]:
                best[i] = (total, [*prev[1], ref])
    result = best[n]
    return list(result[1]) if result else [_series_split_part(s)]


def _looks_like_surname_part(part: str) -> bool:
    toks = part.split()
    return len(toks) == 1 or fold(toks[0]) in _NAME_PARTICLES


def _looks_like_given_part(part: str) -> bool:
    toks = part.split()
    if not 1 <= len(toks) <= 4:
        return False
    return len(toks) <= 2 or any(re.fullmatch(r"[A-Za-z]\.?", t) for t in toks)


def split_names(author_name: str, known: Iterable[str] = ()) -> list[str]:
    """Split ABS's "A, B" / "A & B" / "A and B" / "A; B" people strings into names.

    A "Family, Given" pair ("Le Guin, Ursula K.", "Sanderson, Brandon") stays one name when
    it is a ``known`` name or clearly has that shape; "Jr."-style suffixes stay attached.
    """
    s = " ".join(html.unescape(author_name or "").split())
    if not s:
        return []
    known_keys = {tuple(sorted(name_tokens(k))) for k in known if k and k.strip()}
    chunks = [c.strip() for c in re.split(r"\s*;\s*|\s+&\s+|\s+and\s+", s) if c.strip()]
    out: list[str] = []
    for chunk in chunks:
        parts = [p.strip() for p in chunk.split(",") if p.strip()]
        # glue suffixes to the part before them
        glued: list[str] = []
        for p in parts:
            if glued and _is_suffix(p):
                glued[-1] = f"{glued[-1]}, {p}"
            else:
                glued.append(p)
        n = len(glued)
        best: list[tuple[float, list[str]] | None] = [None] * (n + 1)
        best[0] = (0.0, [])
        for i in range(1, n + 1):
            options: list[tuple[float, int]] = []
            one = glued[i - 1]
            key = tuple(sorted(name_tokens(one)))
            options.append(
                (10.0 if key in known_keys else (2.0 if len(one.split()) >= 2 else 0.0), 1)
            )
            if i >= 2:
                fam, given = glued[i - 2], glued[i - 1]
                key2 = tuple(sorted(name_tokens(f"{fam}, {given}")))
                if key2 in known_keys:
                    options.append((20.0, 2))
                elif _looks_like_surname_part(fam) and _looks_like_given_part(given):
                    options.append((5.0, 2))
            for score, width in options:
                prev = best[i - width]
                if prev is None:
                    continue
                name = ", ".join(glued[i - width : i])
                total = prev[0] + score
                cur = best[i]
                if cur is None or total > cur[0]:
                    best[i] = (total, [*prev[1], name])
        result = best[n]
        out.extend(result[1] if result else glued)
    return out


# --------------------------------------------------------------------------------------------
# Editions and languages
# --------------------------------------------------------------------------------------------

_ABRIDGED_RE = re.compile(r"(?<![\w-])abridged\b|\babridgement\b|\bcondensed\b")
_DRAMATIZED_RE = re.compile(
    r"dramati[sz](?:ed|ation)|graphic\s*audio|full[\s-]*cast|radio\s+(?:drama|play|dramati[sz]ation)"
    r"|\bbbc\s+radio|\baudio\s+(?:drama|play)\b|\baudio\s+movie\b"
)
_OMNIBUS_STRONG_RE = re.compile(
    r"\bbox(?:ed)?[\s-]*set\b|\bomnibus\b|\bcomplete\s+(?:series|collection|saga|trilogy)\b"
    r"|\b(?:books?|volumes?|vols?|novels?|#)\.?\s*\d{1,2}\s*(?:-|to|&|through|and)\s*#?\d{1,2}\b"
)
# blurbs of single books mention "books 1-3" of their series; only these say "this is a pack"
_OMNIBUS_DESC_RE = re.compile(
    r"\bbox(?:ed)?[\s-]*set\b|\bomnibus\b|\bthis\s+collection\s+(?:contains|includes)\b"
)
_OMNIBUS_TITLE_RE = re.compile(
    r"(?<![\w\-])(\d{1,2})\s*-\s*(\d{1,2})(?![\w\-])|\bcollection\b|\btrilogy$|\bseries\s+set\b"
)
_SUMMARY_TITLE_RE = re.compile(
    r"\bsummary\b|\bstudy\s+guide\b|\banalysis\s+of\b|\bworkbook\b|\bsparknotes\b|\bcliffs?\s*notes\b"
    r"|\bkey\s+takeaways\b|\bbook\s+review\b|\bconversation\s+starters\b"
)
_SUMMARY_DESC_RE = re.compile(
    r"\bthis\s+is\s+(?:a|an)\s+(?:unofficial\s+)?summary\b|\bunofficial\s+summary\b"
    r"|\bsummary\s+(?:and|&)\s+analysis\b|\bstudy\s+guide\b|\bworkbook\s+for\b"
    r"|\bnot\s+the\s+original\s+book\b|\bsummary\s+of\s+the\s+(?:original\s+)?book\b"
)


# every rule in edition_class needs one of these substrings (or a digit in the title)
_EDITION_WORDS = (
    "abridg",
    "condensed",
    "drama",
    "graphic",
    "cast",
    "radio",
    "bbc",
    "audio",
    "box",
    "omnibus",
    "complete",
    "collection",
    "trilogy",
    "series",
    "summar",
    "guide",
    "analysis",
    "workbook",
    "notes",
    "takeaway",
    "review",
    "starters",
    "original book",
)


_EDITION_HINT_RE = re.compile("|".join(map(re.escape, _EDITION_WORDS)) + r"|\d")


def edition_class(title: str, tags: str = "", description: str = "") -> set[str]:
    """Edition classes of a release: subset of {"abridged", "dramatized", "omnibus", "summary"}.

    Title and tags are trusted; the description only with unambiguous phrases, because blurbs
    say things like "now unabridged" or "from the collection of".
    """
    t = fold(title)
    g = fold(tags)
    d = fold(description)
    head = f"{t} | {g}"
    found: set[str] = set()
    if not _EDITION_HINT_RE.search(head) and not (d and _EDITION_HINT_RE.search(d)):
        return found  # nothing any rule below could match: skip the regexes
    if _ABRIDGED_RE.search(head) or (
        d and _ABRIDGED_RE.search(d) and "unabridged" not in d and "unabridged" not in head
    ):
        found.add("abridged")
    if _DRAMATIZED_RE.search(head) or (d and _DRAMATIZED_RE.search(d)):
        found.add("dramatized")
    if _OMNIBUS_STRONG_RE.search(head) or (d and _OMNIBUS_DESC_RE.search(d)):
        found.add("omnibus")
    else:
        stripped = parse_title(title).text if t else ""
        for m in _OMNIBUS_TITLE_RE.finditer(f"{t} {stripped}"):
            if m.group(1) and int(m.group(2)) <= int(m.group(1)):
                continue
            found.add("omnibus")
            break
    if _SUMMARY_TITLE_RE.search(head) or (d and _SUMMARY_DESC_RE.search(d)):
        found.add("summary")
    return found


_LANGUAGES: dict[str, tuple[str, ...]] = {
    "english": ("en", "eng"),
    "french": ("fr", "fre", "fra", "francais"),
    "german": ("de", "ger", "deu", "deutsch"),
    "spanish": ("es", "spa", "espanol", "castellano"),
    "italian": ("it", "ita", "italiano"),
    "dutch": ("nl", "dut", "nld", "nederlands", "flemish"),
    "portuguese": ("pt", "por", "portugues"),
    "russian": ("ru", "rus"),
    "japanese": ("ja", "jpn"),
    "chinese": ("zh", "chi", "zho", "mandarin"),
    "korean": ("ko", "kor"),
    "swedish": ("sv", "swe", "svenska"),
    "norwegian": ("no", "nor", "nb", "nob", "nn", "nno", "norsk"),
    "danish": ("da", "dan", "dansk"),
    "finnish": ("fi", "fin", "suomi"),
    "polish": ("pl", "pol", "polski"),
    "czech": ("cs", "cze", "ces"),
    "hungarian": ("hu", "hun"),
    "greek": ("el", "gre", "ell"),
    "turkish": ("tr", "tur"),
    "arabic": ("ar", "ara"),
    "hebrew": ("he", "heb"),
    "hindi": ("hi", "hin"),
    "ukrainian": ("uk", "ukr"),
    "romanian": ("ro", "rum", "ron"),
    "catalan": ("ca", "cat"),
    "latin": ("la", "lat"),
    "afrikaans": ("af", "afr"),
}
_LANG_ALIASES: dict[str, str] = {}
for _name, _codes in _LANGUAGES.items():
    _LANG_ALIASES[_name] = _name
    for _c in _codes:
        _LANG_ALIASES[_c] = _name


def _language_key(s: str) -> str:
    t = fold(s)
    t = re.split(r"[\s_\-(/]", t, maxsplit=1)[0] if t else ""  # "en-US", "English (US)"
    return _LANG_ALIASES.get(t, t)


def language_ok(language: str | None, wanted: Iterable[str], *, unknown_ok: bool = True) -> bool:
    """Is ``language`` one of ``wanted``? "English", "en", "eng", "en-US" are all English.

    An empty ``wanted`` accepts everything; an unknown (empty) language passes unless
    ``unknown_ok`` is False, because libraries and trackers often leave it blank.
    """
    wanted_keys = {_language_key(w) for w in wanted if w and w.strip()}
    if not wanted_keys:
        return True
    if not language or not language.strip():
        return unknown_ok
    return _language_key(language) in wanted_keys


# --------------------------------------------------------------------------------------------
# Distance
# --------------------------------------------------------------------------------------------


class Distance:
    """Named, weighted penalties (each 0..1) folded into one distance 0..1, like beets.

    Only components that were added count, so a field neither side knows neither helps nor
    hurts. :meth:`components` says how much each one contributed, for reports.
    """

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights: dict[str, float] = {**DEFAULT_WEIGHTS, **(weights or {})}
        self._penalties: dict[str, float] = {}

    def add(self, name: str, penalty: float) -> None:
        """Record a penalty for ``name`` (the worst one wins if added twice)."""
        p = min(1.0, max(0.0, float(penalty)))
        self._penalties[name] = max(p, self._penalties.get(name, 0.0))

    def add_similarity(self, name: str, sim: float) -> None:
        self.add(name, 1.0 - sim)

    def _weight(self, name: str) -> float:
        return self.weights.get(name, 1.0)

    @property
    def max_distance(self) -> float:
        return sum(self._weight(k) for k in self._penalties)

    @property
    def raw_distance(self) -> float:
        return sum(self._weight(k) * p for k, p in self._penalties.items())

    @property
    def distance(self) -> float:
        m = self.max_distance
        return self.raw_distance / m if m else 0.0

    def penalties(self) -> dict[str, float]:
        """Unweighted penalty per component."""
        return dict(self._penalties)

    def components(self) -> dict[str, float]:
        """Each component's share of :attr:`distance` (they sum to it)."""
        m = self.max_distance
        if not m:
            return {}
        return {k: round(self._weight(k) * p / m, 4) for k, p in self._penalties.items()}

    def worst(self) -> str | None:
        """The component that contributes most, or None when nothing is wrong."""
        comps = self.components()
        if not comps:
            return None
        name, val = max(comps.items(), key=lambda kv: kv[1])
        return name if val > 0 else None

    def __float__(self) -> float:
        return self.distance

    def __repr__(self) -> str:
        return f"Distance({self.distance:.3f}, {self.penalties()})"


@dataclass(frozen=True)
class Match:
    """The outcome of comparing an owned book with an offered one."""

    verdict: Verdict
    distance: float
    reason: str
    owned: BookRef
    offered: BookRef
    components: Mapping[str, float] = field(default_factory=dict)
    same_recording: bool | None = None  # None: not enough to tell (no narrators, no editions)

    @property
    def is_same(self) -> bool:
        return self.verdict == "same"


# --------------------------------------------------------------------------------------------
# Prepared books
# --------------------------------------------------------------------------------------------


def _norm_asin(s: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", s or "").upper()


def _norm_isbn(s: str) -> str:
    """ISBN-13 digits (ISBN-10 converted) or "" when not a valid-looking ISBN."""
    d = re.sub(r"[^0-9Xx]", "", s or "").upper()
    if len(d) == 10 and d[:9].isdigit():
        core = "978" + d[:9]
        check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(core)) % 10) % 10
        return core + str(check)
    if len(d) == 13 and d.isdigit():
        return d
    return ""


def _year(s: str) -> int | None:
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", s or "")
    return int(m.group(1)) if m else None


def _title_numbers(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split() if t[0].isdigit() and t.replace(".", "", 1).isdigit())


def _numbers_conflict(a: _Prep, b: _Prep) -> tuple[str, str] | None:
    """Disjoint numbers in the titles ("Dark Tower 2" vs "Dark Tower 3"), main part or whole."""
    if not (a.numbers and b.numbers):
        return None
    for x, y in (
        (_title_numbers(a.title.main), _title_numbers(b.title.main)),
        (a.numbers, b.numbers),
    ):
        if x and y and not (x & y):
            return ",".join(sorted(x)), ",".join(sorted(y))
    return None


def _sig_tokens(text: str) -> frozenset[str]:
    toks = text.split()
    sig = frozenset(t for t in toks if t not in _STOPWORDS)
    return sig or frozenset(toks)


@dataclass(frozen=True)
class _Series:
    key: str  # normalize_series(name); "" = a bare position found in the title
    pos: tuple[float, float] | None


@dataclass(frozen=True)
class _Prep:
    book: BookRef
    title: TitleParts
    has_field_subtitle: bool  # ABS / store subtitle field: a real subtitle, not a sequel name
    authors: tuple[tuple[str, ...], ...]
    narrators: tuple[tuple[str, ...], ...]
    series: tuple[_Series, ...]
    asin: str
    isbn: str
    year: int | None
    editions: frozenset[str]
    tokens: frozenset[str]  # significant title tokens (full, main, subtitle)
    numbers: frozenset[str]


@lru_cache(maxsize=120_000)
def _prepare(book: BookRef) -> _Prep:
    raw_title = book.title or ""
    tp = parse_title(raw_title) if raw_title.strip() else TitleParts("", "", "")
    field_sub = ""
    if book.subtitle and book.subtitle.strip() and raw_title.strip() and not tp.subtitle:
        # parse "title: subtitle" as one, so an Audible-style subtitle "Mistborn, Book 1"
        # becomes a series hint rather than a subtitle
        both = parse_title(f"{raw_title}: {book.subtitle}")
        if both.main == tp.main:
            tp = both
            field_sub = both.subtitle
    authors = tuple(
        t for a in book.authors if (t := name_tokens(a)) and " ".join(t) not in _NO_AUTHOR
    )
    narrators = tuple(
        t for n in book.narrators if (t := name_tokens(n)) and " ".join(t) not in _NO_AUTHOR
    )
    series: list[_Series] = []
    for s in book.series:
        key = normalize_series(s.name or "")
        pos = parse_position(s.position)
        if key or pos:
            series.append(_Series(key, pos))
    for h in tp.series:
        pos = parse_position(h.position)
        if pos is None:
            continue
        if not any(x.key == h.name and x.pos == pos for x in series):
            series.append(_Series(h.name, pos))
    editions = set(edition_class(raw_title, " ".join(tp.tags), ""))
    if book.abridged:
        editions.add("abridged")
    tokens = _sig_tokens(tp.text) | _sig_tokens(tp.main)
    return _Prep(
        book=book,
        title=tp,
        has_field_subtitle=bool(field_sub),
        authors=authors,
        narrators=narrators,
        series=tuple(series),
        asin=_norm_asin(book.asin),
        isbn=_norm_isbn(book.isbn),
        year=_year(book.year) or (_year(tp.year) if tp.year else None),
        editions=frozenset(editions),
        tokens=tokens,
        numbers=_title_numbers(tp.text),
    )


# --------------------------------------------------------------------------------------------
# Title similarity
# --------------------------------------------------------------------------------------------


def _token_weight(t: str) -> float:
    return 0.3 if t in _STOPWORDS else 1.0


@lru_cache(maxsize=300_000)
def _pair_sim(x: str, y: str) -> float:
    """Similarity of two comparable title strings: the lower of token Dice and char ratio.

    Token Dice keeps "Leviathan Wakes" and "Leviathan Falls" apart (half the words differ)
    where a character ratio alone would call them 73 % alike; the character ratio keeps
    near-identical long titles close when one word has a typo.
    """
    if x == y:
        return 1.0 if x else 0.0
    if not x or not y:
        return 0.0
    tx, ty = x.split(), y.split()
    wx = sum(_token_weight(t) for t in tx)
    wy = sum(_token_weight(t) for t in ty)
    rest_y = list(ty)
    matched_w = 0.0
    unmatched_x: list[str] = []
    for t in tx:
        if t in rest_y:
            rest_y.remove(t)
            matched_w += _token_weight(t)
        else:
            unmatched_x.append(t)
    # typo repair is only worth it if it could lift the score to a match at all
    if unmatched_x and rest_y and 2 * (matched_w + len(unmatched_x)) / (wx + wy) < 0.5:
        unmatched_x = []
    for t in unmatched_x:
        if len(t) < 4 or t.isdigit():
            continue
        best, best_r = None, 0.8
        st = set(t)
        for u in rest_y:
            if len(u) < 4 or abs(len(u) - len(t)) > 2 or len(st.symmetric_difference(u)) > 4:
                continue
            r = _ratio(t, u, best_r)
            if r >= best_r:
                best, best_r = u, r
        if best is not None:
            rest_y.remove(best)
            matched_w += _token_weight(t) * best_r
    dice = 2 * matched_w / (wx + wy) if wx + wy else 0.0
    if dice < 0.5:
        return dice
    char = _ratio(x, y)
    if sorted(tx) == sorted(ty):  # same words in another order ("Hobbit, The" handled earlier)
        char = max(char, 0.95)
    return min(dice, char)


def _strip_prefix(text: str, key: str) -> tuple[str, str | None] | None:
    """ "mistborn 2 well of ascension" with key "mistborn" -> ("well of ascension", "2")."""
    if not key or not text.startswith(key + " "):
        return None
    rest = text[len(key) + 1 :]
    m = re.match(
        r"^(?:series |saga |trilogy )?(?:(?:book|bk|vol|volume|no)\s+)?(\d+(?:\.\d+)?)\s+(.+)$",
        rest,
    )
    if m:
        core = m.group(2)
        for art in _ARTICLES:  # "mistborn 1 the final empire" -> "final empire"
            if core.startswith(art + " ") and len(core) > len(art) + 1:
                core = core[len(art) + 1 :]
                break
        return core, m.group(1)
    return None


def _title_sim(a: _Prep, b: _Prep) -> tuple[float, str, list[_Series], list[_Series]]:
    """Best similarity over the ways these two titles may legitimately be written.

    Returns (similarity, how, series positions found in a's and in b's title by stripping a
    series-name prefix such as "Mistborn 1: ...").
    """
    ta, tb = a.title, b.title
    best = _pair_sim(ta.text, tb.text)
    how = "full"
    extra_a: list[_Series] = []
    extra_b: list[_Series] = []
    if best == 1.0:
        return best, how, extra_a, extra_b

    def consider(sim: float, label: str) -> None:
        nonlocal best, how
        if sim > best:
            best, how = sim, label

    series_keys = {s.key for s in a.series + b.series if s.key}
    author_keys = {" ".join(t) for t in a.authors + b.authors}

    def cores(p: _Prep) -> list[tuple[str, str | None]]:
        """Title without a leading series or author name ("Mistborn: The Final Empire")."""
        out: list[tuple[str, str | None]] = []
        t = p.title
        texts = [t.text]
        if t.subtitle and (t.main in series_keys or t.main in author_keys):
            out.append((t.subtitle, None))
            texts.append(t.subtitle)  # "Author - Series 01 - Title": strip both
        for text in texts:
            for key in series_keys:
                r = _strip_prefix(text, key)
                if r:
                    out.append(r)
        return out

    ca, cb = cores(a), cores(b)
    for core, pos in ca:
        consider(_pair_sim(core, tb.text), "series-prefix")
        if pos and (pp := parse_position(pos)):
            extra_a.append(_Series("", pp))
        for core_b, _ in cb:
            consider(_pair_sim(core, core_b), "series-prefix")
    for core, pos in cb:
        consider(_pair_sim(ta.text, core), "series-prefix")
        if pos and (pp := parse_position(pos)):
            extra_b.append(_Series("", pp))

    # One side has a subtitle the other lacks: "Project Hail Mary" vs "... : A Novel" (generic
    # ones are gone already), "Sapiens" vs "Sapiens: A Brief History of Humankind". A short
    # subtitle on a title that also names the series is often a sequel ("Thrawn: Alliances"), so
    # it only counts as a near match unless the subtitle came from a real subtitle field.
    def sub_drop(p: _Prep, other: _Prep) -> None:
        t = p.title
        if not t.subtitle or other.title.subtitle:
            return
        if t.main in series_keys and not p.has_field_subtitle:
            return
        sim = _pair_sim(t.main, other.title.text)
        if sim <= 0.0:
            return
        if p.has_field_subtitle:
            factor = 0.97
        elif len(_sig_tokens(t.subtitle)) >= 3:
            factor = 0.93
        else:
            factor = 0.7
        consider(sim * factor, "without subtitle")

    sub_drop(a, b)
    sub_drop(b, a)
    # "Series: Title" vs "Title" with no series info anywhere: the subtitle is the title
    for p, other in ((a, b), (b, a)):
        if p.title.subtitle and not other.title.subtitle:
            consider(_pair_sim(p.title.subtitle, other.title.text) * 0.9, "subtitle as title")
    return best, how, extra_a, extra_b


def title_similarity(a: str, b: str) -> float:
    """0..1 similarity of two raw titles (with the subtitle/tag/series-suffix rules)."""
    return _title_sim(_prepare(BookRef(title=a)), _prepare(BookRef(title=b)))[0]


# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=100_000)
def _series_match(x: str, y: str) -> bool:
    if x == y:
        return True
    if not x or not y:
        return False
    return _ratio(x, y, 0.9) >= 0.9


def _series_check(a: tuple[_Series, ...], b: tuple[_Series, ...]) -> tuple[str, float | None, str]:
    """Compare series lists. Returns (state, penalty, detail).

    state: "conflict" (same series, different position: a different work), "disagree"
    (one shared series agrees, another conflicts: unreliable data), "ok" or "none".
    """
    if not a or not b:
        return "none", None, ""
    agree = 0
    conflicts: list[tuple[tuple[float, float], tuple[float, float]]] = []
    name_matches = 0
    named_a = [s for s in a if s.key]
    named_b = [s for s in b if s.key]
    for sa in named_a:
        for sb in named_b:
            if not _series_match(sa.key, sb.key):
                continue
            name_matches += 1
            if sa.pos and sb.pos:
                if sa.pos == sb.pos:
                    agree += 1
                else:
                    conflicts.append((sa.pos, sb.pos))
    # bare positions from titles ("Book 2") compare against any position on the other side,
    # but only when no named pair settled it and the other side has a single position
    bare_a = [s for s in a if not s.key and s.pos]
    bare_b = [s for s in b if not s.key and s.pos]
    if not agree and not conflicts:
        for bare, other in ((bare_a, b), (bare_b, a)):
            for s in bare:
                positions = {o.pos for o in other if o.pos}
                if not positions:
                    continue
                if s.pos in positions:
                    agree += 1
                elif len(positions) == 1:
                    conflicts.append((s.pos, next(iter(positions))))  # type: ignore[arg-type]
                    if bare is bare_b:
                        conflicts[-1] = (conflicts[-1][1], conflicts[-1][0])
    if conflicts and not agree:
        pa, pb = conflicts[0]
        return "conflict", 1.0, f"{_fmt_pos(pa)} vs {_fmt_pos(pb)}"
    if conflicts:
        pa, pb = conflicts[0]
        return "disagree", 0.5, f"{_fmt_pos(pa)} vs {_fmt_pos(pb)}"
    if agree:
        return "ok", 0.0, ""
    if name_matches:
        return "ok", 0.2, ""  # same series, position unknown on one side
    if named_a and named_b:
        return "ok", 0.5, ""  # both in series, none shared (could be universe vs sub-series)
    return "none", None, ""


_COMPONENT_WORDS = {
    "title": "title differs",
    "authors": "author differs",
    "series": "series differs",
    "narrators": "narrator differs",
    "ids": "identifiers differ",
    "year": "year differs",
    "edition": "edition differs",
}


def _compare(
    a: _Prep,
    b: _Prep,
    *,
    same_threshold: float,
    near_threshold: float,
    weights: Mapping[str, float] | None,
    level: str,
    only_close: bool = False,
) -> Match | None:
    """The comparison itself; with ``only_close`` it may return None for a plain "different"
    (the index only wants same / near misses and skips the bookkeeping)."""
    owned, offered = a.book, b.book

    def result(verdict: Verdict, distance: float, reason: str, comps: Mapping[str, float]) -> Match:
        return Match(
            verdict=verdict,
            distance=round(distance, 4),
            reason=reason,
            owned=owned,
            offered=offered,
            components=dict(comps),
            same_recording=same_rec,
        )

    # same recording? narrators and edition classes, when known
    rec_editions = {"abridged", "dramatized"}
    ed_a, ed_b = a.editions & rec_editions, b.editions & rec_editions
    nar_sim = _names_similarity(a.narrators, b.narrators) if a.narrators and b.narrators else None
    same_rec: bool | None
    if ed_a != ed_b or (nar_sim is not None and nar_sim < 0.5):
        same_rec = False
    elif nar_sim is not None or (a.asin and a.asin == b.asin):
        same_rec = True
    else:
        same_rec = None

    if a.asin and a.asin == b.asin:
        same_rec = True
        return result("same", 0.0, "same ASIN", {})
    if a.isbn and a.isbn == b.isbn:
        return result("same", 0.0, "same ISBN", {})

    d = Distance(weights)
    if level == "recording":
        d.weights["narrators"] = max(d.weights.get("narrators", 0.5), 2.0)

    title_sim, _how, extra_a, extra_b = _title_sim(a, b)
    if only_close and title_sim < MIN_NEAR_TITLE:
        return None
    # a whole word changed is not a typo: scale the title penalty so that "Dune" vs
    # "Dune Messiah" (similarity 0.5) is a full miss while a one-letter slip stays small
    d.add("title", (1.0 - title_sim) * TITLE_PENALTY_SCALE)

    # authors: both known -> similarity; one unknown -> a mild "missing" penalty
    author_sim: float | None = None
    if a.authors and b.authors:
        author_sim = _names_similarity(a.authors, b.authors)
        d.add_similarity("authors", author_sim)
    elif a.authors or b.authors:
        d.add("authors", 0.3)

    # positions found by stripping a series-name prefix belong to the side whose title had them
    sa = a.series + tuple(x for x in extra_a if x not in a.series)
    sb = b.series + tuple(x for x in extra_b if x not in b.series)
    series_state, series_pen, series_detail = _series_check(sa, sb)
    if series_pen is not None:
        d.add("series", series_pen)

    if nar_sim is not None:
        d.add_similarity("narrators", nar_sim)
    if a.asin and b.asin and a.asin != b.asin:
        d.add("ids", 1.0)
    if a.year and b.year:
        gap = abs(a.year - b.year)
        d.add("year", 0.0 if gap <= 1 else min(1.0, (gap - 1) / 10))

    struct_a = a.editions & {"omnibus", "summary"}
    struct_b = b.editions & {"omnibus", "summary"}
    if struct_a != struct_b:
        d.add("edition", 1.0)

    dist = d.distance
    comps = d.components()

    # hard rules first: facts no weighting should be able to outvote
    if struct_a != struct_b:
        kind = sorted(struct_a ^ struct_b)[0]
        what = "summary / study guide" if kind == "summary" else "omnibus vs single book"
        return result("different", max(dist, near_threshold + 0.01), what, comps)
    if series_state == "conflict":
        return result(
            "different",
            max(dist, near_threshold + 0.01),
            f"different series position {series_detail}",
            comps,
        )
    nums = _numbers_conflict(a, b)
    if nums:
        na, nb = nums
        return result(
            "different",
            max(dist, near_threshold + 0.01),
            f"title numbers differ {na} vs {nb}",
            comps,
        )
    if author_sim is not None and author_sim < 0.5:
        if author_sim > 0 and title_sim >= 0.95:
            # Same title, an author who shares a name with ours ("Andrew Weir" for "Andy Weir"):
            # too close to grab blindly, too far to call owned. Report it.
            return result("near_miss", max(dist, same_threshold + 0.01), "near miss: author differs", comps)
        return result("different", max(dist, near_threshold + 0.01), "author differs", comps)
    if level == "recording":
        if ed_a != ed_b:
            kind = sorted(ed_a ^ ed_b)[0]
            return result(
                "different", max(dist, near_threshold + 0.01), f"different recording: {kind}", comps
            )
        if nar_sim is not None and nar_sim < 0.5:
            return result("different", max(dist, near_threshold + 0.01), "narrator differs", comps)

    if dist <= same_threshold and title_sim >= MIN_SAME_TITLE:
        if series_state == "disagree":
            return result("near_miss", dist, f"series positions disagree {series_detail}", comps)
        # no author on one side and no agreeing series: a bare, inexact title match
        if (
            author_sim is None
            and not (a.series and b.series and series_pen == 0.0)
            and title_sim < 1.0
        ):
            return result("near_miss", dist, "title only, author unknown", comps)
        return result("same", dist, "same work", comps)
    worst = d.worst() or "title"
    what = _COMPONENT_WORDS.get(worst, f"{worst} differs")
    if worst == "authors" and author_sim is None:
        what = "author unknown"
    if dist <= near_threshold and title_sim >= MIN_NEAR_TITLE:
        return result("near_miss", dist, f"near miss: {what}", comps)
    return result("different", dist, what, comps)


def compare(
    owned: BookRef,
    offered: BookRef,
    *,
    same_threshold: float = SAME_THRESHOLD,
    near_threshold: float = NEAR_THRESHOLD,
    weights: Mapping[str, float] | None = None,
    level: Literal["work", "recording"] = "work",
) -> Match:
    """Is ``offered`` the same work (or, with ``level="recording"``, recording) as ``owned``?

    "same" at distance <= ``same_threshold``, "near_miss" up to ``near_threshold`` (report,
    never act), else "different". The hard rules in the module docstring come first.
    """
    m = _compare(
        _prepare(owned),
        _prepare(offered),
        same_threshold=same_threshold,
        near_threshold=near_threshold,
        weights=weights,
        level=level,
    )
    assert m is not None  # only_close is off
    return m


# --------------------------------------------------------------------------------------------
# LibraryIndex
# --------------------------------------------------------------------------------------------


class LibraryIndex:
    """Owned books indexed for fast "do I own this?" lookups.

    Blocking keeps the expensive :func:`compare` to a handful of candidates per lookup:

    * ASIN / ISBN dictionaries answer outright;
    * the main block is keyed on (author name token, significant title token) pairs, so
      "sanderson" + "empire" lists only Sanderson's books with "empire" in the title, whatever
      the name order ("Sanderson, Brandon") or the rest of the title ("Mistborn: The Final
      Empire (Mistborn, Book 1)"); owned books without an author are keyed under "";
    * when that finds nothing (no author offered, or an author spelled differently), rare title
      tokens alone are tried; tokens on more than ``rare_cap`` books are skipped there.

    Candidates are counted with ``Counter.update`` over posting lists (the loop runs in C) and
    only the ``max_candidates`` best are compared in full. A book whose every title word and
    author name token is misspelt can be missed; identifiers and one intact word are enough.
    """

    def __init__(
        self,
        books: Iterable[BookRef] = (),
        *,
        same_threshold: float = SAME_THRESHOLD,
        near_threshold: float = NEAR_THRESHOLD,
        weights: Mapping[str, float] | None = None,
        max_candidates: int = 6,
        rare_cap: int | None = None,
    ) -> None:
        self.same_threshold = same_threshold
        self.near_threshold = near_threshold
        self.weights = dict(weights) if weights else None
        self.max_candidates = max_candidates
        self.rare_cap = rare_cap
        self._preps: list[_Prep] = []
        self._by_asin: dict[str, list[int]] = {}
        self._by_isbn: dict[str, list[int]] = {}
        self._pair_post: dict[tuple[str, str], list[int]] = {}
        self._title_post: dict[str, list[int]] = {}
        for book in books:
            self.add(book)

    def __len__(self) -> int:
        return len(self._preps)

    def add(self, book: BookRef) -> None:
        """Index one more owned (or just queued) book."""
        p = _prepare(book)
        i = len(self._preps)
        self._preps.append(p)
        if p.asin:
            self._by_asin.setdefault(p.asin, []).append(i)
        if p.isbn:
            self._by_isbn.setdefault(p.isbn, []).append(i)
        titles = self._title_keys(p)
        for tok in titles:
            self._title_post.setdefault(tok, []).append(i)
        for a in self._author_keys(p) or {""}:
            for tok in titles:
                self._pair_post.setdefault((a, tok), []).append(i)

    @staticmethod
    def _title_keys(p: _Prep) -> frozenset[str]:
        keys = p.tokens
        if p.title.subtitle:
            keys = keys | _sig_tokens(p.title.subtitle)
        return keys

    @staticmethod
    def _author_keys(p: _Prep) -> set[str]:
        return {t for a in p.authors for t in a if len(t) > 1 and t not in _NAME_PARTICLES}

    def _rare_cap(self) -> int:
        if self.rare_cap is not None:
            return self.rare_cap
        return max(50, len(self._preps) // 500)

    def _candidates(self, b: _Prep) -> list[int]:
        found: set[int] = set()
        if b.asin:
            found.update(self._by_asin.get(b.asin, ()))
        if b.isbn:
            found.update(self._by_isbn.get(b.isbn, ()))
        titles = self._title_keys(b)
        counts: Counter[int] = Counter()
        post = self._pair_post
        # no author offered (a release name like "Brandon Sanderson - Mistborn 01 - ..."):
        # the author may be inside the title, so title tokens double as author tokens
        authors = self._author_keys(b) or titles
        for a in authors:
            for tok in titles:
                hits = post.get((a, tok))
                if hits:
                    counts.update(hits)
        for tok in titles:  # owned books that have no author
            hits = post.get(("", tok))
            if hits:
                counts.update(hits)
        if not counts:
            cap = self._rare_cap()
            for tok in titles:
                hits = self._title_post.get(tok)
                if hits and len(hits) <= cap:
                    counts.update(hits)
        found.update(i for i, _ in counts.most_common(self.max_candidates))
        return sorted(found)

    def matches(self, offered: BookRef, limit: int = 5) -> list[Match]:
        """Owned books that are the same as, or a near miss of, ``offered``; best first."""
        b = _prepare(offered)
        out: list[Match] = []
        for i in self._candidates(b):
            m = _compare(
                self._preps[i],
                b,
                same_threshold=self.same_threshold,
                near_threshold=self.near_threshold,
                weights=self.weights,
                level="work",
                only_close=True,
            )
            if m is not None and m.verdict != "different":
                out.append(m)
        out.sort(key=lambda m: (m.verdict != "same", m.distance))
        return out[:limit]

    def find(self, offered: BookRef) -> Match | None:
        """The best owned match ("same" before "near_miss"), or None when nothing is close."""
        found = self.matches(offered, limit=1)
        return found[0] if found else None

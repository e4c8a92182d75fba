"""Titles and series: series positions, taking a title apart, series names.

:func:`parse_position` reads "Book 2" / "1-3" / "#3"; :func:`parse_title` strips tracker
tags, bracketed series hints, years and generic subtitles into :class:`TitleParts`;
:func:`normalize_series` and :func:`split_series_name` handle series names and ABS's
``seriesName`` strings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from abook.models import SeriesRef

from .text import _NUM_WORDS, _TENS_WORDS, _fmt_num, _number, _roman, _unaccent, fold

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
# A split upload names its part: "(Part 1 of 2)", "(1 of 2)", "[Disc 2]", ", Part One", " - Pt. 3".
# "Book 1 of 3" is not here: that is a series position (a trilogy's first book).
_PART_NUM = r"(\d{1,2}|[ivx]{1,4}|one|two|three|four|five|six|seven|eight|nine|ten)"
_PART_WORDS = r"(?:part|pt\.?|disc|disk|cd)"
_PART_RE = re.compile(
    rf"^(?:{_PART_WORDS}\s*{_PART_NUM}(?:\s*(?:of|/)\s*{_PART_NUM})?"
    r"|(\d{1,2})\s*(?:of|/)\s*(\d{1,2}))$"
)
_TRAILING_PART_RE = re.compile(
    rf"^(?P<title>.+?)[\s,:;\-]+{_PART_WORDS}\s*{_PART_NUM}(?:\s*(?:of|/)\s*{_PART_NUM})?$"
)
_TRAILING_N_OF_M_RE = re.compile(r"^(?P<title>.+?)\s*[,:;\-]\s*(\d{1,2})\s*(?:of|/)\s*(\d{1,2})$")
_PART_HINT_RE = re.compile(r"\b(?:part|pt|disc|disk|cd)\b|\d\s*(?:of|/)\s*\d")
# "Frankenstein; or, The Modern Prometheus", "The Hobbit, or There and Back Again"
_DESCRIBED_RE = re.compile(r"^\W*(?:a|an)\s")
_ALT_SUB_RE = re.compile(r"^or\b[\s,]*(?P<alt>.+)$")
_ALT_MAIN_RE = re.compile(r"^(?P<main>.+?),\s*or\b,?\s+(?P<alt>.+)$")
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
_EDITION_QUALIFIERS = (
    r"(?:\d+(?:st|nd|rd|th)|anniversary|deluxe|special|collector'?s|expanded|complete|illustrated|"
    r"revised|updated|definitive|annotated|extended|author'?s|preferred|movie|media|tie-in|"
    r"unabridged|abridged|audible|audio|new|classic|original|uncut|enhanced|limited|bonus)"
)
_TRAILING_TAG_RE = re.compile(
    r"(?:\s*[:,]\s*|\s+-\s+|\s+)(?:"
    rf"(?:the\s+)?(?:{_EDITION_QUALIFIERS}\s+){{1,3}}edition|"
    r"(?:un)?abridged|audio\s*book|audiobook|mp3|m4b)$"
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
_NUMBERISH = frozenset(_NUM_WORDS) | frozenset(_TENS_WORDS)
# a digit, or a word of roman-numeral letters only ("ii", "xiv")
_MAYBE_NUMBER_RE = re.compile(r"\d|\b[ivx]{2,6}\b")
# every trailing / hinted position needs one of these
_POSITION_HINT_RE = re.compile(r"\d|#|\b(?:books?|bk|vols?|volumes?|nos?|numbers?)\b")


@dataclass(frozen=True)
class TitleParts:
    """A title taken apart: comparable text plus what was stripped from it."""

    text: str  # comparable full title: main and subtitle, tags/series suffixes removed
    main: str  # comparable part before ":" / " - " (== text when there is no subtitle)
    subtitle: str  # comparable subtitle ("" when none)
    series: tuple[SeriesRef, ...] = ()  # hints taken from the title ("Mistborn, Book 1")
    tags: tuple[str, ...] = ()  # bracketed / trailing tags removed, folded ("unabridged")
    year: str = ""  # "(1965)" taken from the end of the title
    #: (part, of how many; 0 = not said) of a split upload: "(Part 1 of 2)", "(1 of 2)", ", Part 1"
    part: tuple[int, int] | None = None
    #: the position written as part of the title itself ("Wool: Volume 3", "Mistborn, Book 2",
    #: "Leviathan Wakes #1"), as opposed to an annotation in brackets ("(Mistborn, Book 2)")
    volume: str = ""
    #: the subtitle is an alternate title ("X, or Y"), which names the same work
    alternate: bool = False
    #: the subtitle began with "a" / "an" ("Thinking in Systems: A Primer"): it describes the
    #: book rather than naming a sequel ("Thrawn: Alliances")
    described: bool = False

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(self.text.split())


def _clean_words(s: str) -> str:
    """Lower-level cleanup of one title part: articles, '&', punctuation, number words."""
    s = s.strip(" ,.;:-")
    if "," in s:
        m = _TRAILING_ARTICLE_RE.match(s)
        if m:  # "Hobbit, The" -> "Hobbit"
            s = m.group("body")
    if "&" in s or "+" in s:
        s = s.replace("&", " and ").replace("+", " and ")
    if "'" in s:
        s = _APOSTROPHE_RE.sub("", s)
    s = _NON_WORD_RE.sub(" ", s).replace("_", " ")
    toks = s.split()
    while len(toks) > 1 and toks[0] in _ARTICLES:
        toks = toks[1:]
    # most titles have no number word, numeral or digit: nothing below would change them
    if _NUMBERISH.isdisjoint(toks) and not _MAYBE_NUMBER_RE.search(s):
        return " ".join(toks)
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
    if not _POSITION_HINT_RE.search(content):
        return None  # no position word, "#" or digit: the regexes below cannot match
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


def _part_numbers(n: str | None, total: str | None) -> tuple[int, int] | None:
    lo = _number(n or "")
    if lo is None or lo < 1 or lo != int(lo):
        return None
    of = _number(total) if total else 0.0
    if of is None or (of and of < lo):
        return None
    return int(lo), int(of)


def _part_of(content: str) -> tuple[int, int] | None:
    """(part, of) when a bracketed group names a part of a split upload: "part 1 of 2", "1 of 2"."""
    m = _PART_RE.match(content)
    if not m:
        return None
    if m.group(1):
        return _part_numbers(m.group(1), m.group(2))
    part = _part_numbers(m.group(3), m.group(4))
    return part if part and part[1] >= 2 else None  # "1 of 1" is the whole book


def _pop_groups(
    s: str, hints: list[SeriesRef], tags: list[str]
) -> tuple[str, str, tuple[int, int] | None]:
    """Remove bracketed tags and trailing parentheticals, recording hints/tags/year/part."""
    year = ""
    part: tuple[int, int] | None = None
    if "[" not in s and "{" not in s and "(" not in s:
        return s, year, part
    # every [...] / {...} group is tracker decoration
    for m in _BRACKET_RE.finditer(s):
        content = (m.group(1) or m.group(2) or "").strip()
        found = _part_of(content)
        if found:
            part = part or found
            continue
        hint = _series_hint(content, bare_ok=True)
        if hint:
            hints.append(hint)
        elif _YEAR_RE.match(content):
            year = year or content
        elif content:
            tags.append(content)
    s = _BRACKET_RE.sub(" ", s).strip()
    if "(" not in s:
        return " ".join(s.split()), year, part
    # parenthetical groups that are tags anywhere, and any parenthetical at the end
    first = True
    while True:
        s = s.strip()
        m = _TRAILING_PAREN_RE.search(s) if s.endswith(")") else None
        if not m or m.start() == 0:
            break
        content = m.group(1).strip()
        found = _part_of(content)
        # the last group goes whatever it says; earlier ones only when recognised, so that
        # "The (Very) Long (Title) (Series, Book 2)" keeps its words
        if not first and not (
            found
            or _series_hint(content, bare_ok=True)
            or _YEAR_RE.match(content)
            or _TAG_WORDS_RE.search(content)
        ):
            break
        first = False
        if found:  # "(Part 1 of 2)": a split audiobook is not the whole work; keep it visible
            part = part or found
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
        content = m.group(1).strip()
        if _PART_RE.match(content):
            return m.group(0)
        if _TAG_WORDS_RE.search(content):
            tags.append(content)
            return " "
        return m.group(0)

    s = _PAREN_RE.sub(_mid, s)
    return " ".join(s.split()), year, part


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


def _trailing_part(s: str) -> tuple[str, tuple[int, int] | None]:
    """ "The Way of Kings, Part 1" -> ("The Way of Kings", (1, 0)); "X - 1 of 2" -> ("X", (1, 2))."""
    if not _PART_HINT_RE.search(s[-24:]):
        return s, None
    m = _TRAILING_PART_RE.match(s)
    if m:
        part = _part_numbers(m.group(2), m.group(3))
        if part:
            return m.group("title"), part
    m = _TRAILING_N_OF_M_RE.match(s)
    if m:
        part = _part_numbers(m.group(2), m.group(3))
        if part and part[1] >= 2:
            return m.group("title"), part
    return s, None


@lru_cache(maxsize=200_000)
def parse_title(raw: str) -> TitleParts:
    """Take a tracker / store / library title apart.

    "Mistborn: The Final Empire (Mistborn, Book 1) [Unabridged]" gives text "mistborn final
    empire", main "mistborn", subtitle "final empire", series hint Mistborn #1, tag "unabridged".
    A split upload's part stays visible at the end of the text ("... part 1") and in ``part``;
    "X, or Y" gives main "x", subtitle "y" and ``alternate``.
    """
    s = fold(raw)
    hints: list[SeriesRef] = []
    tags: list[str] = []
    s, year, part = _pop_groups(s, hints, tags)
    s = _strip_trailing_tags(s, tags)
    if part is None:
        s, part = _trailing_part(s)
        if part is not None:
            s = _strip_trailing_tags(s, tags)

    # split once into main title and subtitle
    parts = _SUBTITLE_SPLIT_RE.split(s, maxsplit=1)
    main_raw = parts[0]
    sub_raw = parts[1] if len(parts) > 1 else ""
    if not main_raw.strip(" ,.;:-") and sub_raw:  # ": Title" or "- Title"
        main_raw, sub_raw = sub_raw, ""

    alternate = False
    if sub_raw:
        m = _ALT_SUB_RE.match(sub_raw)
        if m:
            sub_raw, alternate = m.group("alt"), True
    elif ", or" in main_raw:
        m = _ALT_MAIN_RE.match(main_raw)
        if m:
            main_raw, sub_raw, alternate = m.group("main"), m.group("alt"), True

    volume = ""
    # "The Final Empire: Mistborn, Book 1" -> the subtitle is a series reference; a bare one
    # ("Wool: Volume 3") or one naming the title itself is the title's own volume number
    if sub_raw:
        hint = _series_hint(sub_raw, bare_ok=False)
        if hint:
            hints.append(hint)
            if not hint.name or hint.name == normalize_series(main_raw):
                volume = hint.position or ""
            sub_raw = ""
            alternate = False
    # "Book 2: The Well of Ascension" / "Mistborn Book 2 - The Well of Ascension"
    moved = False
    if sub_raw:
        hint = _series_hint(main_raw, bare_ok=False)
        if hint:
            hints.append(hint)
            main_raw, sub_raw, moved = sub_raw, "", True
    # "Mistborn, Book 2" / "Mistborn #2" at the end of a title with no subtitle
    if not sub_raw:
        m = None
        if _POSITION_HINT_RE.search(main_raw[-24:]):
            m = _TRAILING_POS_RE.match(main_raw) or _TRAILING_HASH_RE.match(main_raw)
        if m and parse_position(m.group("pos")):
            pos = m.group("pos").replace(" ", "")
            hints.append(SeriesRef("", pos))
            main_raw = m.group("title")
            if not moved:
                volume = volume or pos
    else:
        sub_raw = _strip_trailing_tags(sub_raw, tags)
        m = None
        if _POSITION_HINT_RE.search(sub_raw[-24:]):
            m = _TRAILING_POS_RE.match(sub_raw) or _TRAILING_HASH_RE.match(sub_raw)
        if m and parse_position(m.group("pos")):
            hints.append(SeriesRef("", m.group("pos").replace(" ", "")))
            sub_raw = m.group("title")

    main = _clean_words(main_raw)
    sub = _clean_words(sub_raw)
    described = bool(sub) and _DESCRIBED_RE.match(sub_raw) is not None
    if not main and sub:
        main, sub = sub, ""
        alternate = False
    if not main:  # a title that is nothing but a tag: keep something comparable
        main = _clean_words(fold(raw))
    if part is not None:
        if sub:
            sub = f"{sub} part {part[0]}"
        else:
            main = f"{main} part {part[0]}"
    text = f"{main} {sub}".strip()
    return TitleParts(
        text=text,
        main=main,
        subtitle=sub,
        series=tuple(hints),
        tags=tuple(tags),
        year=year,
        part=part,
        volume=volume,
        alternate=alternate and bool(sub),
        described=described and bool(sub),
    )


_ANY_GROUP_RE = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|\{([^{}]*)\}")
_TAIL_GROUPS_RE = re.compile(r"(?:\s*[\(\[\{][^()\[\]{}]*[\)\]\}])+\s*$")
_TRAILING_PART_RAW_RE = re.compile(_TRAILING_PART_RE.pattern, re.IGNORECASE)
_TRAILING_N_OF_M_RAW_RE = re.compile(_TRAILING_N_OF_M_RE.pattern, re.IGNORECASE)


def split_part(title: str) -> tuple[str, tuple[int, int] | None]:
    """A split upload's title without its part, and the part: "The Way of Kings (Part 1 of 2)"
    -> ("The Way of Kings", (1, 2)); a whole book's title comes back as it is, with None."""
    part = parse_title(title).part if title and title.strip() else None
    if part is None:
        return title, None

    def drop(m: re.Match[str]) -> str:
        content = next(g for g in m.groups() if g is not None)
        return " " if _part_of(fold(content).strip()) else m.group(0)

    whole = " ".join(_ANY_GROUP_RE.sub(drop, _unaccent(title)).split())
    # "Rhythm of War - Part One [Unabridged]": the part before trailing tags
    tail = _TAIL_GROUPS_RE.search(whole)
    body, groups = (whole[: tail.start()], tail.group(0)) if tail else (whole, "")
    for rx in (_TRAILING_PART_RAW_RE, _TRAILING_N_OF_M_RAW_RE):
        m = rx.match(body)
        if m:
            body = m.group("title")
            break
    whole = f"{body.strip(' ,;:-')}{groups}".strip()
    return whole or title, part


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
# Splitting ABS series strings
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

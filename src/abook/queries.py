"""What the tracker is asked for one wanted book: a fixed, ordered plan of text queries. Pure.

A tracker's full-text search (MAM's, and the indexers behind Prowlarr) tokenises the text it is
given and wants every word in the torrent's fields. So a title must be searched the way people
write it - "Xyz's Fear" finds "Xyz's Fear", its comparison form "xyzs fear" does not, and
"Three Xyz" is not found as "3 xyz" - and only then in looser forms that a differently written
upload still contains. Comparing what comes back is :mod:`abook.matching`'s job, never this
module's: a query only has to find the torrent; the judge decides whether it is the book.

:func:`plan` gives, in this order and without repeats, at most :data:`MAX_QUERIES_PER_BOOK`:

1. the title as written (tags, bracketed series hints and "Book 3" suffixes removed; search
   operators and punctuation turned into spaces) + the author's surname;
2. the same title alone (the judge filters by author afterwards: the tracker may spell the
   author differently, or credit only a narrator);
3. the main title without its subtitle + surname ("The Keeper: A Salt Kings Story" is often
   uploaded as "The Keeper");
4. the comparison form (apostrophes joined, number words and roman numerals as digits, "&" as
   "and", leading articles dropped) + surname: an upload written "Kings Gambit" or "Book of Ash 2";
5. the distinctive words only (no apostrophe words, numbers, articles, "and"/"&") + surname:
   "Salt and Iron" finds "Salt & Iron", "Harbor-Master's Daughter" finds "Harbormaster's Daughter";
6. the series name (without "The" and "Saga"/"Trilogy"...) + surname: every upload of the series,
   so a title spelled differently ("Colour"/"Color") is still found at its position.

Each query is one tracker call, paced by the client; a run stops at the first query that finds a
torrent it may take (see :func:`abook.workflows.lookup.run_plan`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

#: tracker queries one missing book costs at most (a run also stops at MAX_SEARCHES_PER_RUN)
MAX_QUERIES_PER_BOOK = 6

WRITTEN = "title+author"
TITLE_ALONE = "title"
MAIN_TITLE = "main title+author"
COMPARISON = "comparison form+author"
KEYWORDS = "keywords+author"
SERIES = "series+author"


@dataclass(frozen=True)
class Query:
    """One tracker search: ``text`` in the title (and series) fields, ``author`` added to it."""

    text: str
    author: str = ""
    kind: str = WRITTEN

    @property
    def sent(self) -> str:
        """The text as the tracker receives it (MAM and Prowlarr get one text field)."""
        return f"{self.text} {self.author}".strip()


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'",
                         "\u2013": " - ", "\u2014": " - ", "\u00a0": " "})
_GROUPS_RE = re.compile(r"\[[^\[\]]*\]|\{[^{}]*\}")
_TRAILING_PAREN_RE = re.compile(r"\s*\([^()]*\)\s*$")
_NUMBER_WORD = (
    r"\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"[ivx]{1,5}"
)
# ", Book 3" / " Book Three" / " #3" / ", Vol. 2" at the end: the series position, not the title
_POSITION_SUFFIX_RE = re.compile(
    rf"[\s,:;-]+(?:book|bk|vol|volume|#)\.?\s*#?\s*(?:{_NUMBER_WORD})\s*$|\s+#\s*\d+(?:\.\d+)?\s*$",
    re.IGNORECASE,
)
# ": A Novel", " - A Thriller": uploads leave these out, and a query without them finds both
_GENERIC_SUB_RE = re.compile(
    r"\s*(?::|,|\s-)\s*(?:a|an)\s+(?:[\w']+\s+){0,3}?(?:novel|novella|thriller|memoir|mystery|romance)\s*$",
    re.IGNORECASE,
)
_SUBTITLE_SPLIT_RE = re.compile(r"\s*:\s*|\s+-\s+|\s*;\s*")
# what a search engine may read as an operator, or cannot index: everything but letters, digits,
# apostrophes, hyphens and spaces
_NOT_TEXT_RE = re.compile(r"[^\w'\s-]|_")
_EDGE_RE = re.compile(r"^['-]+|['-]+$")
_STOPWORDS = frozenset({"the", "a", "an", "of", "and", "in", "on", "to", "for", "at", "by", "with",
                        "or", "from", "into", "is", "it", "as", "its"})
_NUMBERS = frozenset({"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                      "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                      "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
                      "sixty", "seventy", "eighty", "ninety", "hundred"})
_ROMAN_RE = re.compile(r"^(?=[ivxlc]{2,}$)c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")
_SERIES_WORDS = frozenset({"series", "saga", "trilogy", "sequence", "quartet", "duology", "novels",
                           "books", "universe", "cycle", "chronicles", "chronicle", "collection"})


def _clean(raw: str) -> str:
    s = html.unescape(html.unescape(raw or "")).translate(_QUOTES)
    return " ".join(s.split())


def _decoration_free(raw: str) -> str:
    """The title without what stores and trackers add: [tags], a trailing "(...)", "Book 3"."""
    s = _GROUPS_RE.sub(" ", _clean(raw))
    s = " ".join(s.split())
    while True:
        stripped = _TRAILING_PAREN_RE.sub("", s)
        if stripped == s or not stripped.strip():
            break
        s = stripped
    for rx in (_POSITION_SUFFIX_RE, _GENERIC_SUB_RE):
        stripped = rx.sub("", s)
        if stripped.strip():
            s = stripped
    return s.strip(" ,;:-")


def _words(text: str) -> list[str]:
    out = []
    for token in _NOT_TEXT_RE.sub(" ", text).split():
        token = _EDGE_RE.sub("", token)
        if token:
            out.append(token)
    return out


def written(raw: str) -> str:
    """The title as people write it, minus decoration and search operators:
    "Xyz's Fear: A Novel [Unabridged]" -> "Xyz's Fear"; "Salt & Iron" -> "Salt Iron"."""
    return " ".join(_words(_decoration_free(raw)))


def main_title(raw: str) -> str:
    """The written title before its subtitle ("" when there is none); a leading "Book 2:"
    is a position, not the main title, so the part after it is taken then."""
    s = _decoration_free(raw)
    parts = _SUBTITLE_SPLIT_RE.split(s, maxsplit=1)
    if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
        return ""
    head, tail = parts
    if re.fullmatch(rf"(?:book|bk|vol|volume|part|#)\.?\s*#?\s*(?:{_NUMBER_WORD})", head.strip(), re.IGNORECASE):
        return " ".join(_words(tail))
    return " ".join(_words(head))


def comparison_form(raw: str) -> str:
    """The form titles are compared in (:func:`abook.matching.normalize_title`)."""
    from .matching import normalize_title

    return normalize_title(_decoration_free(raw))


def _is_number(token: str) -> bool:
    t = token.lower()
    return t.replace(".", "").isdigit() or t in _NUMBERS or bool(_ROMAN_RE.match(t))


def keywords(text: str) -> str:
    """The distinctive words of written text: no articles / "and", no numbers in any form, no
    words with an apostrophe, no single letters. "" when nothing is left."""
    out = []
    for token in text.replace("-", " ").split():
        low = token.lower()
        if "'" in token or low in _STOPWORDS or _is_number(low) or len(low) < 2:
            continue
        out.append(token)
    return " ".join(out)


def series_words(name: str) -> str:
    """A series name as a query: written, without a leading article or "Saga"/"Trilogy"-like
    words ("The Salt Kings Saga" -> "Salt Kings"); the name itself when nothing else is left."""
    words = _words(_clean(name))
    core = list(words)
    while core and core[0].lower() in ("the", "a", "an"):
        core = core[1:]
    core = [w for w in core if w.lower() not in _SERIES_WORDS]
    return " ".join(core or words)


def surname(name: str) -> str:
    """The family name as written ("Ursula K. Le Guin" -> "Guin", "Sanderson, Brandon" ->
    "Sanderson"); "" for no author. A lone initial is no surname: then the whole name."""
    from .matching import fold, name_tokens

    tokens = name_tokens(name or "")
    if not tokens or fold(name) in ("unknown", "various", "various authors", "anonymous"):
        return ""
    family = tokens[-1]
    if len(family) < 2:
        return " ".join(_words(_clean(name)))
    for word in reversed(_words(_clean(name).replace(".", " "))):
        if fold(word).replace("'", "") == family.replace("'", ""):
            return word
    return family


def plan(
    title: str,
    authors: Sequence[str] = (),
    *,
    series: str = "",
    limit: int = MAX_QUERIES_PER_BOOK,
) -> list[Query]:
    """The queries for one wanted book, in order, without repeats, at most ``limit`` (see the
    module docstring). ``series`` is the series name to fall back on ("" for none)."""
    from .matching import fold

    family = surname(authors[0]) if authors else ""
    full = written(title)
    if not full:
        full = " ".join(_words(_clean(title)))
    main = main_title(title)
    candidates = [
        Query(full, family, WRITTEN),
        Query(full, "", TITLE_ALONE),
        Query(main, family, MAIN_TITLE),
        Query(comparison_form(title), family, COMPARISON),
        Query(keywords(main or full), family, KEYWORDS),
        Query(series_words(series) if series else "", family, SERIES),
    ]
    out: list[Query] = []
    seen: set[tuple[str, str]] = set()
    for query in candidates:
        if not query.text.strip():
            continue
        key = (" ".join(fold(query.text).split()), fold(query.author))
        if key in seen:
            continue
        seen.add(key)
        out.append(query)
    return out[: max(0, min(limit, MAX_QUERIES_PER_BOOK))]

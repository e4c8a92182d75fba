"""Comparing two books: the prepared record, title similarity, the distance, the verdict.

``_prepare`` turns a :class:`~abook.models.BookRef` into the normalised record (cached);
:func:`title_similarity` tries the legitimate ways a title may be written; :class:`Distance`
folds the weighted penalties into one number and :func:`compare` applies the hard rules and
the thresholds to give a :class:`Match`.

Why one module of this size: the prepared record, the title rules and the verdict are one
computation, tuned together and benchmarked together (``benchmarks/matching.py``); the pieces have
no use apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Literal

from abook.models import BookRef

from .editions import edition_class
from .names import _NO_AUTHOR, _all_other_people, _best_pair, _names_similarity, name_tokens
from .text import _fmt_num, _ratio, fold
from .titles import (
    _ARTICLES,
    _STOPWORDS,
    TitleParts,
    _fmt_pos,
    normalize_series,
    parse_position,
    parse_title,
)

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
    """The outcome of comparing an owned book with an offered one.

    ``rule`` names what decided the verdict: a hard rule ("identifier", "edition", "part",
    "spin-off", "volume", "series", "author", "no author", "recording") or "distance" (the
    thresholds). :meth:`explain` puts it all on one line for ``abook search -v``.
    """

    verdict: Verdict
    distance: float
    reason: str
    owned: BookRef
    offered: BookRef
    components: Mapping[str, float] = field(default_factory=dict)
    same_recording: bool | None = None  # None: not enough to tell (no narrators, no editions)
    title_similarity: float = 0.0
    rule: str = "distance"

    @property
    def is_same(self) -> bool:
        return self.verdict == "same"

    def explain(self) -> str:
        """One line: "same: distance 0.053 = title 0.041 + series 0.012; title 0.97; same work",
        or "different by the author rule: distance 0.343 = authors 0.343 + title 0.000; ...".

        Each component's share of the weighed distance, biggest first. A hard rule decides
        whatever the distance (its verdict's ``distance`` is then raised past the band)."""
        ranked = sorted(self.components.items(), key=lambda kv: (-kv[1], kv[0]))
        comps = " + ".join(f"{k} {v:.3f}" for k, v in ranked) or "0"
        total = sum(self.components.values())
        how = self.verdict if self.rule == "distance" else f"{self.verdict} by the {self.rule} rule"
        return (
            f"{how}: distance {total:.3f} = {comps}; "
            f"title {self.title_similarity:.2f}; {self.reason}"
        )


# --------------------------------------------------------------------------------------------
# Prepared books
# --------------------------------------------------------------------------------------------


_ASIN_JUNK_RE = re.compile(r"[^0-9A-Za-z]")
_ISBN_JUNK_RE = re.compile(r"[^0-9Xx]")
_YEAR_IN_RE = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_DIGIT_RE = re.compile(r"\d")
_NO_NUMBERS: frozenset[str] = frozenset()


def _norm_asin(s: str) -> str:
    return _ASIN_JUNK_RE.sub("", s).upper() if s else ""


def _norm_isbn(s: str) -> str:
    """ISBN-13 digits (ISBN-10 converted) or "" when not a valid-looking ISBN."""
    if not s:
        return ""
    d = _ISBN_JUNK_RE.sub("", s).upper()
    if len(d) == 10 and d[:9].isdigit():
        core = "978" + d[:9]
        check = (10 - sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(core)) % 10) % 10
        return core + str(check)
    if len(d) == 13 and d.isdigit():
        return d
    return ""


def _year(s: str) -> int | None:
    m = _YEAR_IN_RE.search(s) if s else None
    return int(m.group(1)) if m else None


def _title_numbers(text: str) -> frozenset[str]:
    if not _DIGIT_RE.search(text):
        return _NO_NUMBERS  # most titles: skip the token scan
    return frozenset(t for t in text.split() if t[0].isdigit() and t.replace(".", "", 1).isdigit())


def _without_part(text: str, part: tuple[int, int] | None) -> str:
    if part is None:
        return text
    suffix = f" part {part[0]}"
    return text[: -len(suffix)] if text.endswith(suffix) else text


def _numbers_conflict(a: _Prep, b: _Prep) -> tuple[str, str] | None:
    """Disjoint numbers in the titles ("Dark Tower 2" vs "Dark Tower 3"), main part or whole."""
    if not (a.numbers and b.numbers):
        return None
    for x, y in ((a.main_numbers, b.main_numbers), (a.numbers, b.numbers)):
        if x and y and not (x & y):
            return ",".join(sorted(x)), ",".join(sorted(y))
    return None


def _sig_tokens(text: str) -> frozenset[str]:
    toks = frozenset(text.split())
    return (toks - _STOPWORDS) or toks


_RAW_WORD_RE = re.compile(r"[^\w]+|_")


@dataclass(frozen=True)
class _Series:
    key: str  # normalize_series(name); "" = a bare position found in the title
    pos: tuple[float, float] | None


@dataclass(frozen=True)
class _Prep:
    """A book prepared for comparison. The fields are what the title comparison needs; the
    rest is computed on first use (cached on the record), because most candidates an index
    lookup compares are dismissed on their title alone."""

    book: BookRef
    title: TitleParts
    has_field_subtitle: bool  # ABS / store subtitle field: a real subtitle, not a sequel name
    authors: tuple[tuple[str, ...], ...]
    author_names: tuple[str, ...]  # the names as given, aligned with ``authors``
    series: tuple[_Series, ...]
    numbers: frozenset[str]  # numbers in the comparable title (a split upload's part aside)
    main_numbers: frozenset[str]

    @cached_property
    def narrators(self) -> tuple[tuple[str, ...], ...]:
        return tuple(
            t for n in self.book.narrators if (t := name_tokens(n)) and " ".join(t) not in _NO_AUTHOR
        )

    @cached_property
    def asin(self) -> str:
        return _norm_asin(self.book.asin)

    @cached_property
    def isbn(self) -> str:
        return _norm_isbn(self.book.isbn)

    @cached_property
    def year(self) -> int | None:
        tp = self.title
        return _year(self.book.year) or (_year(tp.year) if tp.year else None)

    @cached_property
    def editions(self) -> frozenset[str]:
        tp = self.title
        title = self.book.title or ""
        if self.book.subtitle and self.book.subtitle.strip():
            # a subtitle field is part of the title here: "Atomic Habits" / "Summary and Analysis"
            title = f"{title}: {self.book.subtitle}"
        found = edition_class(title, " ".join(tp.tags), "")
        if self.book.abridged:
            found.add("abridged")
        return frozenset(found)

    @cached_property
    def tokens(self) -> frozenset[str]:
        """Significant title tokens (full, main)."""
        tp = self.title
        return _sig_tokens(tp.text) | _sig_tokens(tp.main) if tp.subtitle else _sig_tokens(tp.text)

    @cached_property
    def volume(self) -> tuple[float, float] | None:
        """The title's own volume number ("Wool: Volume 3")."""
        return parse_position(self.title.volume) if self.title.volume else None

    @property
    def raw_words(self) -> frozenset[str]:
        """Every word of the raw title (for an author named in it)."""
        return _raw_words(self.book.title or "")


@lru_cache(maxsize=20_000)
def _raw_words(title: str) -> frozenset[str]:
    return frozenset(_RAW_WORD_RE.split(fold(title))) - {""}


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
    authors: list[tuple[str, ...]] = []
    author_names: list[str] = []
    for a in book.authors:
        t = name_tokens(a)
        if t and " ".join(t) not in _NO_AUTHOR:
            authors.append(t)
            author_names.append(a.strip())
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
    return _Prep(
        book=book,
        title=tp,
        has_field_subtitle=bool(field_sub),
        authors=tuple(authors),
        author_names=tuple(author_names),
        series=tuple(series),
        numbers=_title_numbers(_without_part(tp.text, tp.part)),
        main_numbers=_title_numbers(_without_part(tp.main, tp.part)),
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
    # stopwords weigh 0.3, other words 1
    wx = len(tx) - 0.7 * len(_STOPWORDS.intersection(tx)) if len(set(tx)) == len(tx) else sum(
        _token_weight(t) for t in tx
    )
    wy = len(ty) - 0.7 * len(_STOPWORDS.intersection(ty)) if len(set(ty)) == len(ty) else sum(
        _token_weight(t) for t in ty
    )
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


_SERIES_WORDS = frozenset(
    {"series", "saga", "trilogy", "sequence", "quartet", "duology", "cycle", "chronicles"}
)
_PREFIX_POS_RE = re.compile(
    r"^(?:series |saga |trilogy )?(?:(?:book|bk|vol|volume|no)\s+)?(\d+(?:\.\d+)?)\s+(.+)$"
)


def _strip_prefix(text: str, key: str) -> tuple[str, str | None] | None:
    """ "mistborn 2 well of ascension" with key "mistborn" -> ("well of ascension", "2");
    "star wars thrawn thrawn" with key "star wars thrawn" -> ("thrawn", None): a series name
    written before the title, with or without its position."""
    if not key:
        return None
    if text.startswith(key + " "):
        rest = text[len(key) + 1 :]
    else:
        # word by word, articles and series words aside: "star wars thrawn trilogy heir to the
        # empire" against the key "star wars the thrawn" (from "Star Wars: The Thrawn Trilogy")
        words, i = text.split(), 0
        for k in key.split():
            if k in _ARTICLES:
                continue
            while i < len(words) and words[i] in _ARTICLES:
                i += 1
            if i >= len(words) or words[i] != k:
                return None
            i += 1
        while i < len(words) and words[i] in _SERIES_WORDS:
            i += 1
        rest = " ".join(words[i:])
        if not rest:
            return None
    m = _PREFIX_POS_RE.match(rest)
    core, pos = (m.group(2), m.group(1)) if m else (rest, None)
    for art in _ARTICLES:  # "mistborn 1 the final empire" -> "final empire"
        if core.startswith(art + " ") and len(core) > len(art) + 1:
            core = core[len(art) + 1 :]
            break
    return core, pos


#: a title that another one extends with words glued on, without a subtitle separator ("He Who
#: Fights with Monsters Reborn", "Dune Messiah"), is at best this similar: like a one-word
#: subtitle, it is more often another book than the same one
GLUED_CAP = 0.7
#: words glued onto a title that change nothing: the series / author names of either side (checked
#: separately) and tags the tag rules missed
_GLUE_NOISE = frozenset(
    {"unabridged", "audiobook", "audio", "book", "books", "novel", "series", "saga", "edition",
     "mp3", "m4b", "the", "a", "an", "of", "and", "by"}
)

# Words that make a title a companion to, a guide to or an adaptation of the title it contains.
_GLUED_MARKERS = frozenset(
    {"companion", "guide", "handbook", "encyclopedia", "encyclopaedia", "atlas", "lexicon",
     "compendium", "cookbook", "coloring", "colouring", "trivia", "quiz", "bestiary", "almanac",
     "sourcebook", "artbook", "official", "unofficial", "stories", "tales", "novella", "prequel",
     "sequel", "journal", "workbook", "screenplay", "script", "novelization", "novelisation",
     "sketchbook"}
)
_PREFIX_MARKERS = frozenset(
    {"companion", "guide", "handbook", "encyclopedia", "encyclopaedia", "atlas", "lexicon",
     "compendium", "art", "making", "world", "science", "philosophy", "physics", "maps", "map",
     "cookbook", "trivia", "unofficial", "official", "inside", "secrets"}
)
_SUBTITLE_QUAL = (
    r"(?:(?:official|unofficial|illustrated|ultimate|complete|essential|definitive|readers?|fans?|"
    r"visual|pocket|quick|annotated|field|new|little|mini|deluxe|authorized|authorised)\s+)*"
)
# a subtitle that only says "companion" / "official guide" / "graphic novel" (not "A Guide to
# Stress-Free Living", a non-fiction book's own subtitle)
_SPINOFF_SUBTITLE_RE = re.compile(
    rf"^{_SUBTITLE_QUAL}(?:companion|guide|handbook|encyclopa?edia|atlas|lexicon|compendium|cookbook|"
    r"colou?ring\s+book|trivia(?:\s+(?:book|quiz))?|quiz(?:\s+book)?|bestiary|almanac|sourcebook|"
    r"art\s*book|screenplay|script|novell?i[sz]ation|world\s+of\s+.+|making\s+of\s+.+)"
    r"(?:\s+(?:book|edition|volume|vol|\d+))?$"
    r"|\bunofficial\b|\bofficial\s+(?:\w+\s+)?(?:guide|companion|handbook|encyclopa?edia|cookbook)\b"
    r"|\bgraphic\s+(?:novel|history|adaptation|memoir)\b"
)


def _find_run(haystack: list[str], needle: list[str]) -> int:
    n = len(needle)
    for i in range(len(haystack) - n + 1):
        if haystack[i : i + n] == needle:
            return i
    return -1


def _contained_titles(a: _Prep, b: _Prep) -> Iterator[tuple[_Prep, _Prep, list[str]]]:
    """(x, y, words of y's title) for each way y's title may sit whole inside x's longer one:
    y's full title, or its main title when y has a subtitle ("Mountains: A History" owned,
    "Mountains Companion" offered)."""
    for x, y in ((a, b), (b, a)):
        nx = len(x.title.text.split())
        for text in (y.title.text, y.title.main) if y.title.subtitle else (y.title.text,):
            ty = text.split()
            if ty and nx > len(ty):
                yield x, y, ty


def _spinoff(a: _Prep, b: _Prep) -> str | None:
    """The word that makes one title a companion / guide / adaptation of the other, or None.

    One title must contain the other whole: "<T> Companion", "<T>: The Official Guide", "The
    Science of <T>", "The Unofficial <T> Cookbook". A marker in the subtitle counts only when
    the subtitle says nothing else.
    """
    for x, _y, ty in _contained_titles(a, b):
        tx = x.title.text.split()
        i = _find_run(tx, ty)
        if i < 0:
            continue
        pre, post = tx[:i], tx[i + len(ty) :]
        main_len = len(x.title.main.split())
        if post:
            # glued on, "<T> Companion" or "<T>: <S> Companion": the other title does not end
            # where x's subtitle starts
            if i + len(ty) != main_len:
                hit = next((t for t in post if t in _GLUED_MARKERS), None)
                if hit:
                    return hit
            elif x.title.subtitle and _SPINOFF_SUBTITLE_RE.search(x.title.subtitle):
                return x.title.subtitle
        if pre and (
            any(t in ("unofficial", "official") for t in pre)
            or (pre[-1] in ("of", "to", "for", "behind") and any(t in _PREFIX_MARKERS for t in pre))
        ):
            return " ".join(pre)
    return None


def _glued_extra(x: _Prep, y: _Prep) -> list[str]:
    """The words x's title glues onto the whole of y's title without a separator ("dune
    messiah" on "dune", "winter gate: forgotten ship companion" on "winter gate: forgotten
    ship"), or [] when it does not extend it so (a subtitle after y's title is no glue; a part
    suffix is left aside)."""
    ty = y.title.text.split()
    tx = x.title.text.split()
    if not ty or len(tx) <= len(ty) or tx[: len(ty)] != ty:
        return []
    if len(ty) == len(x.title.main.split()):
        return []  # y is x's main title: what follows is x's subtitle
    extra = tx[len(ty) :]
    if x.title.part is not None and extra[-2:] == ["part", str(x.title.part[0])]:
        extra = extra[:-2]
    return extra


@dataclass(frozen=True)
class _TitleMatch:
    sim: float
    how: str  # which pair of strings gave ``sim``
    sx: str  # the string compared on a's side
    sy: str  # ... and on b's side
    extra_a: tuple[_Series, ...]  # positions found by stripping a series prefix from a's title
    extra_b: tuple[_Series, ...]


def _trailing_number(text: str) -> str | None:
    """ "he who fights with monsters 2" -> "he who fights with monsters" (the volume rule judges
    the number), None when the title does not end in a number."""
    head, _, last = text.rpartition(" ")
    return head if head and last.isdigit() and int(last) < 1000 else None


def _title_sim(a: _Prep, b: _Prep) -> _TitleMatch:
    """Best similarity over the ways these two titles may legitimately be written."""
    ta, tb = a.title, b.title
    best = _pair_sim(ta.text, tb.text)
    how, sx, sy = "full", ta.text, tb.text
    extra_a: list[_Series] = []
    extra_b: list[_Series] = []
    if best == 1.0:
        return _TitleMatch(best, how, sx, sy, (), ())

    def consider(sim: float, label: str, x: str, y: str) -> None:
        nonlocal best, how, sx, sy
        if sim > best:
            best, how, sx, sy = sim, label, x, y

    series_keys = {s.key for s in a.series + b.series if s.key}
    author_keys = {" ".join(t) for t in a.authors + b.authors}
    # "Sanderson, Brandon - Mistborn 01 - ...": a tracker name may lead with "Last, First"
    author_sets = {tuple(sorted(t)) for t in a.authors + b.authors}

    def names_series(main: str) -> bool:
        # "The Moon Trilogy: ..." names the series "moon" (suffix words are normalised away)
        return main in series_keys or (bool(series_keys) and normalize_series(main) in series_keys)

    def cores(p: _Prep) -> list[tuple[str, str | None]]:
        """Title without a leading series or author name ("Mistborn: The Final Empire")."""
        out: list[tuple[str, str | None]] = []
        t = p.title
        texts = [t.text]
        if t.subtitle and (names_series(t.main) or t.main in author_keys
                           or tuple(sorted(t.main.split())) in author_sets):
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
        consider(_pair_sim(core, tb.text), "series-prefix", core, tb.text)
        if pos and (pp := parse_position(pos)):
            extra_a.append(_Series("", pp))
        for core_b, _ in cb:
            consider(_pair_sim(core, core_b), "series-prefix", core, core_b)
    for core, pos in cb:
        consider(_pair_sim(ta.text, core), "series-prefix", ta.text, core)
        if pos and (pp := parse_position(pos)):
            extra_b.append(_Series("", pp))

    # One side has a subtitle the other lacks: "Project Hail Mary" vs "... : A Novel" (generic
    # ones are gone already), "Sapiens" vs "Sapiens: A Brief History of Humankind", "Frankenstein"
    # vs "Frankenstein; or, The Modern Prometheus". A short subtitle on a title that also names
    # the series is often a sequel ("Thrawn: Alliances"), so it only counts as a near match
    # unless the subtitle came from a real subtitle field.
    def sub_drop(p: _Prep, other: _Prep, other_cores: list[tuple[str, str | None]]) -> None:
        t = p.title
        if not t.subtitle:
            return
        # "<Series>: <Name>" is how sequels are titled ("Mistborn: The Well of Ascension"); a
        # subtitle that describes ("He Who Fights with Monsters: A LitRPG Adventure") is not one
        if names_series(t.main) and not (p.has_field_subtitle or t.alternate or t.described):
            return
        # the other title as it stands (when it has no subtitle of its own), or without its
        # series prefix ("Sky Wars: The Cipher's Sea" against "The Cipher's Sea: Bitter Moon")
        targets = [core for core, _ in other_cores]
        if not other.title.subtitle:
            targets.append(other.title.text)
        if not targets:
            return
        target = max(targets, key=lambda x: _pair_sim(t.main, x))
        sim = _pair_sim(t.main, target)
        if sim <= 0.0:
            return
        if t.alternate:
            factor = 1.0  # "X, or Y" is X
        elif p.has_field_subtitle:
            factor = 0.97
        elif len(_sig_tokens(t.subtitle)) >= 2 or t.described:
            factor = 0.93  # "Quiet: The Power of Introverts", "Thinking in Systems: A Primer"
        else:
            factor = GLUED_CAP  # "Thrawn: Alliances"
        x, y = (t.main, target) if p is a else (target, t.main)
        consider(sim * factor, "alternate title" if t.alternate else "without subtitle", x, y)

    sub_drop(a, b, cb)
    sub_drop(b, a, ca)
    # "Series: Title" vs "Title" with no series info anywhere: the subtitle is the title
    for p, other in ((a, b), (b, a)):
        if p.title.subtitle and not other.title.subtitle:
            x, y = (p.title.subtitle, other.title.text)
            if p is b:
                x, y = y, x
            consider(_pair_sim(p.title.subtitle, other.title.text) * 0.9, "subtitle as title", x, y)
    # "Wool 1" vs "Wool": the volume rule decides about the number, the words are the same
    for p, other in ((a, b), (b, a)):
        head = _trailing_number(p.title.text) if not other.numbers else None
        if head:
            x, y = (p.title.text, other.title.text) if p is a else (other.title.text, p.title.text)
            sim = _pair_sim(head, other.title.text)
            if sim > best:
                best, how, sx, sy = sim, "without volume number", x, y

    # glued-on words: "Dune Messiah" is not "Dune" whatever the ratio says of a long title; a
    # series or author name glued on ("The Final Empire Mistborn") is dropped
    explained = frozenset(w for k in series_keys for w in k.split()) | frozenset(
        w for t in a.authors + b.authors for w in t if len(w) > 1  # an initial explains nothing
    )
    for p, other in ((a, b), (b, a)):
        extra = _glued_extra(p, other)
        if not extra or all(t.isdigit() for t in extra):
            continue  # a number: the volume rule's business
        if all(t in explained or t in _GLUE_NOISE for t in extra):
            x, y = (other.title.text, other.title.text)
            if best < 1.0:
                best, how, sx, sy = 1.0, "without series / author name", x, y
        elif best > GLUED_CAP:
            best, how = GLUED_CAP, "title extended"
    return _TitleMatch(best, how, sx, sy, tuple(extra_a), tuple(extra_b))


def title_similarity(a: str, b: str) -> float:
    """0..1 similarity of two raw titles (with the subtitle/tag/series-suffix rules)."""
    return _title_sim(_prepare(BookRef(title=a)), _prepare(BookRef(title=b))).sim


# --------------------------------------------------------------------------------------------
# Series, volumes
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=100_000)
def _series_match(x: str, y: str) -> bool:
    if x == y:
        return True
    if not x or not y:
        return False
    return _ratio(x, y, 0.9) >= 0.9


_GENERIC_TITLE_WORDS = frozenset(
    {"book", "books", "volume", "vol", "part", "series", "saga", "novel", "story", "untitled",
     "episode", "chapter"}
)


def _own_words(text: str, series_keys: set[str]) -> bool:
    """Does a title say something of its own, beyond a series name and a number ("Book 2",
    "Red Rising" in the series Red Rising)?"""
    toks = text.split()
    if not toks or all(t.isdigit() or t in _GENERIC_TITLE_WORDS or t in _STOPWORDS for t in toks):
        return False
    return not any(_series_match(text, k) for k in series_keys)


#: penalty when one title, by one author, sits at different positions of the same series in two
#: sources (publication vs chronological order, a prequel as 0 or 15): a fact about the sources
SCHEME_PENALTY = 0.2


def _series_check(
    a: tuple[_Series, ...], b: tuple[_Series, ...], *, scheme: bool
) -> tuple[str, float | None, str]:
    """Compare series lists. Returns (state, penalty, detail).

    state: "conflict" (same series, different position: a different work), "disagree"
    (one shared series agrees, another conflicts: unreliable data), "scheme" (positions differ
    but ``scheme`` says the title is the same and says something of its own, so two numbering
    schemes disagree), "ok" or "none".
    """
    if not a or not b:
        return "none", None, ""
    agree = 0
    conflicts: list[tuple[tuple[float, float], tuple[float, float]]] = []
    schemes: list[tuple[tuple[float, float], tuple[float, float]]] = []
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
                    (schemes if scheme else conflicts).append((sa.pos, sb.pos))
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
                    pair = (s.pos, next(iter(positions)))
                    if bare is bare_b:
                        pair = (pair[1], pair[0])
                    (schemes if scheme else conflicts).append(pair)  # type: ignore[arg-type]
    if conflicts and not agree:
        pa, pb = conflicts[0]
        return "conflict", 1.0, f"{_fmt_pos(pa)} vs {_fmt_pos(pb)}"
    if conflicts:
        pa, pb = conflicts[0]
        return "disagree", 0.5, f"{_fmt_pos(pa)} vs {_fmt_pos(pb)}"
    if agree:
        return "ok", 0.0, ""
    if schemes:
        pa, pb = schemes[0]
        return "scheme", SCHEME_PENALTY, f"{_fmt_pos(pa)} vs {_fmt_pos(pb)}"
    if name_matches:
        return "ok", 0.2, ""  # same series, position unknown on one side
    if named_a and named_b:
        return "ok", 0.5, ""  # both in series, none shared (could be universe vs sub-series)
    return "none", None, ""


def _volume_numbers(p: _Prep, text: str) -> frozenset[float]:
    """The numbers a title carries as part of itself: digits in the compared words (not years)
    and a volume written into the title ("Wool: Volume 3")."""
    nums = {float(t) for t in text.split() if t.isdigit() and int(t) < 1000}
    if p.title.part is not None and text.endswith(f" part {p.title.part[0]}"):
        nums.discard(float(p.title.part[0]))
    if p.volume and p.volume[0] == p.volume[1]:
        nums.add(p.volume[0])
    return frozenset(nums)


def _one_sided_volume(
    nums: frozenset[float], other: tuple[_Series, ...]
) -> float | None:
    """A number on one title only names another volume, unless the other side sits at that very
    position, or has no position at all and the number is 1 ("Wool" is "Wool 1"). Returns the
    offending number, or None when it is explained."""
    positions = [s.pos for s in other if s.pos]
    for n in sorted(nums):
        if any(lo <= n <= hi for lo, hi in positions):
            continue
        if not positions and n == 1:
            continue
        return n
    return None


# --------------------------------------------------------------------------------------------
# Authors
# --------------------------------------------------------------------------------------------


def _author_in_title(p: _Prep, other: _Prep) -> bool:
    """A release name that carries its author ("Brandon Sanderson - Mistborn 01 - ..."): the
    family name and a given name or initial of one of ``other``'s authors are words of it."""
    words = p.raw_words
    for name in other.authors:
        family, given = name[-1], name[:-1]
        if len(family) > 1 and family in words and (not given or any(g in words for g in given)):
            return True
    return False


# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------


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
    title_sim = 0.0

    def result(
        verdict: Verdict, distance: float, reason: str, comps: Mapping[str, float], rule: str
    ) -> Match:
        return Match(
            verdict=verdict,
            distance=round(distance, 4),
            reason=reason,
            owned=owned,
            offered=offered,
            components=dict(comps),
            same_recording=same_rec,
            title_similarity=round(title_sim, 4),
            rule=rule,
        )

    same_rec: bool | None = None
    # same recording? narrators and edition classes, when known
    rec_editions = {"abridged", "dramatized"}

    def recording() -> tuple[set[str], set[str], float | None, bool | None]:
        ed_a, ed_b = a.editions & rec_editions, b.editions & rec_editions
        nar = _names_similarity(a.narrators, b.narrators) if a.narrators and b.narrators else None
        if ed_a != ed_b or (nar is not None and nar < 0.5):
            rec: bool | None = False
        elif nar is not None:
            rec = True
        else:
            rec = None
        return set(ed_a), set(ed_b), nar, rec

    if a.book.asin and b.book.asin and a.asin and a.asin == b.asin:
        same_rec = True
        return result("same", 0.0, "same ASIN", {}, "identifier")
    if a.book.isbn and b.book.isbn and a.isbn and a.isbn == b.isbn:
        same_rec = recording()[3]
        return result("same", 0.0, "same ISBN", {}, "identifier")

    tm = _title_sim(a, b)
    title_sim = tm.sim
    if only_close and title_sim < MIN_NEAR_TITLE:
        return None  # the index wants no bookkeeping for a plainly different title
    ed_a, ed_b, nar_sim, same_rec = recording()

    d = Distance(weights)
    if level == "recording":
        d.weights["narrators"] = max(d.weights.get("narrators", 0.5), 2.0)
    # a whole word changed is not a typo: scale the title penalty so that "Dune" vs
    # "Dune Messiah" (similarity 0.5) is a full miss while a one-letter slip stays small
    d.add("title", (1.0 - title_sim) * TITLE_PENALTY_SCALE)

    # authors: both known -> similarity; one unknown -> a mild "missing" penalty, unless the
    # release name carries the author ("Brandon Sanderson - Mistborn 01 - The Final Empire")
    author_sim: float | None = None
    pair = (0, 0)
    if a.authors and b.authors:
        author_sim, i, j = _best_pair(a.authors, b.authors)
        pair = (i, j)
        d.add_similarity("authors", author_sim)
    elif (a.authors and _author_in_title(b, a)) or (b.authors and _author_in_title(a, b)):
        author_sim = 1.0
        d.add_similarity("authors", author_sim)
    elif a.authors or b.authors:
        d.add("authors", 0.3)

    # positions found by stripping a series-name prefix belong to the side whose title had them
    sa = a.series + tuple(x for x in tm.extra_a if x not in a.series)
    sb = b.series + tuple(x for x in tm.extra_b if x not in b.series)
    series_keys = {s.key for s in sa + sb if s.key}
    # one title, saying something of its own, at two positions: two numbering schemes
    scheme = title_sim >= 0.98 and _own_words(tm.sx, series_keys) and _own_words(tm.sy, series_keys)
    series_state, series_pen, series_detail = _series_check(sa, sb, scheme=scheme)
    if series_pen is not None:
        d.add("series", series_pen)

    if nar_sim is not None:
        d.add_similarity("narrators", nar_sim)
    if a.book.asin and b.book.asin and a.asin and b.asin and a.asin != b.asin:
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
    floor = near_threshold + 0.01

    # hard rules first: facts no weighting should be able to outvote
    if struct_a != struct_b:
        kind = sorted(struct_a ^ struct_b)[0]
        what = "summary / study guide" if kind == "summary" else "omnibus vs single book"
        return result("different", max(dist, floor), what, comps, "edition")
    part_a, part_b = a.title.part, b.title.part
    if (part_a is None) != (part_b is None):
        n, of = part_a or part_b  # type: ignore[misc]
        what = f"part {n} of {of}" if of else f"part {n}"
        return result(
            "different", max(dist, floor), f"{what} of a split upload, not the whole book",
            comps, "part",
        )
    if part_a and part_b and part_a[0] != part_b[0]:
        return result(
            "different", max(dist, floor), f"different parts {part_a[0]} vs {part_b[0]}",
            comps, "part",
        )
    marker = _spinoff(a, b)
    if marker:
        return result(
            "different", max(dist, floor), f"a companion / spin-off ({marker})", comps, "spin-off"
        )
    nums = _numbers_conflict(a, b)
    if nums:
        na, nb = nums
        return result(
            "different", max(dist, floor), f"title numbers differ {na} vs {nb}", comps, "volume"
        )
    if a.volume and b.volume and a.volume != b.volume:
        return result(
            "different",
            max(dist, floor),
            f"volumes differ {_fmt_pos(a.volume)} vs {_fmt_pos(b.volume)}",
            comps,
            "volume",
        )
    va, vb = _volume_numbers(a, tm.sx), _volume_numbers(b, tm.sy)
    if bool(va) != bool(vb):
        n = _one_sided_volume(va, sb) if va else _one_sided_volume(vb, sa)
        if n is not None:
            return result(
                "different",
                max(dist, floor),
                f"volume {_fmt_num(n)} on one side only",
                comps,
                "volume",
            )
    if series_state == "conflict":
        return result(
            "different",
            max(dist, floor),
            f"different series position {series_detail}",
            comps,
            "series",
        )
    if author_sim is not None and author_sim < 0.5:
        names_a = a.author_names[pair[0]] if a.author_names else ""
        names_b = b.author_names[pair[1]] if b.author_names else ""
        if not _all_other_people(a.authors, b.authors) and title_sim >= 0.95:
            # Same title, an author who may be ours under another spelling ("Andrew Weir" for
            # "Andy Weir", "T. F. Kuang" for "R. F. Kuang"): too close to grab blindly, too far
            # to call owned. Report it.
            return result(
                "near_miss",
                max(dist, same_threshold + 0.01),
                "near miss: author differs",
                comps,
                "author",
            )
        what = "author differs"
        if author_sim > 0 and names_a and names_b:
            what = f"author differs: {names_b} is not {names_a}"  # "Owen King is not Stephen King"
        return result("different", max(dist, floor), what, comps, "author")
    if level == "recording":
        if ed_a != ed_b:
            kind = sorted(ed_a ^ ed_b)[0]
            return result(
                "different", max(dist, floor), f"different recording: {kind}", comps, "recording"
            )
        if nar_sim is not None and nar_sim < 0.5:
            return result("different", max(dist, floor), "narrator differs", comps, "recording")

    if dist <= same_threshold and title_sim >= MIN_SAME_TITLE:
        if series_state == "disagree":
            return result(
                "near_miss", dist, f"series positions disagree {series_detail}", comps, "series"
            )
        # no author on one side (or either): the same title may be somebody else's book, and only
        # an identifier (checked above) could say otherwise
        if author_sim is None:
            return result(
                "near_miss", dist, "near miss: no author to compare, title only", comps,
                "no author",
            )
        if series_state == "scheme":
            return result(
                "same", dist, f"same work (series positions {series_detail} in two numbering schemes)",
                comps, "distance",
            )
        return result("same", dist, "same work", comps, "distance")
    worst = d.worst() or "title"
    what = _COMPONENT_WORDS.get(worst, f"{worst} differs")
    if worst == "authors" and author_sim is None:
        what = "no author to compare"
    if dist <= near_threshold and title_sim >= MIN_NEAR_TITLE:
        return result("near_miss", dist, f"near miss: {what}", comps, "distance")
    return result("different", dist, what, comps, "distance")


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
    never act), else "different". The hard rules in the package docstring come first.
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

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from abook.models import BookRef

from .editions import edition_class
from .names import _NO_AUTHOR, _names_similarity, name_tokens
from .text import _ratio
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

"""Which record of a bibliography source is the series or author we asked for. Pure.

Sources name things their own way: the library's "Salt Kings" is Audible's "The Salt Kings
Saga", Hardcover's "Iron Tide" is the library's "The Iron Tide Trilogy", "J.K. Rowling" is
"J. K. Rowling" and "Liu Cixin" is "Cixin Liu". An exact comparison finds no bibliography for
such a series at all; a careless one lists another series' books. The rules:

* **Series names** (:func:`series_name_score`) are compared in their comparable form
  (:func:`abook.matching.normalize_series`: case, accents, leading articles, "&" / "and",
  number words and "Saga" / "Trilogy" / "Series"-like suffixes): equal forms score 1.0; a
  spelling slip (character similarity >= 0.9) or one name holding all the words of the other
  ("Stormlight" / "The Stormlight Archive", "Dune" / "Dune Chronicles") score less and need
  the author.
* **The author** decides as much as the name: a candidate whose authors are known and do not
  include the one asked for is refused even when the names are equal ("Dune" by Frank Herbert is
  not Brian Herbert's "Dune: House Trilogy"); a non-exact name needs the author to agree.
* **People** (:func:`same_person`) are the same when :func:`abook.matching.name_similarity`
  says so (order, initials, accents, a missing middle initial).
* Among acceptable candidates the best name wins, then the author, then the source's own weight
  (how many of its products carry the series, its search rank); ties of equal standing that
  point at different records are no answer at all (:func:`pick`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: name_similarity at which two names are one person, for picking a source's record
SAME_PERSON = 0.95
#: character similarity of two comparable series names that is a spelling slip, not another name
SERIES_SLIP = 0.9


@dataclass(frozen=True)
class Candidate:
    """One series (or author) record a source offers: its name, the authors it is credited to
    (empty when the source does not say), the source's reference to it and how much the source
    itself favours it (votes, inverse rank)."""

    name: str
    authors: tuple[str, ...] = ()
    ref: Any = None
    weight: float = 0.0


def series_name_score(asked: str, offered: str) -> float:
    """0..1: how surely ``offered`` names the series ``asked`` names (see the module docstring)."""
    from .matching import normalize_series, similarity

    a, b = normalize_series(asked or ""), normalize_series(offered or "")
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    slip = similarity(a, b)
    if slip >= SERIES_SLIP:
        return round(0.9 * slip, 4)
    short, long_ = sorted((a.split(), b.split()), key=len)
    significant = [w for w in short if len(w) >= 3 or w.isdigit()]
    if significant and set(short) <= set(long_):
        # all the words of one in the other: a longer form of the name, or a sub-series
        return round(0.6 + 0.2 * len(short) / len(long_), 4)
    return 0.0


def same_person(a: str, b: str) -> bool:
    from .matching import name_similarity

    return bool(a and b) and name_similarity(a, b) >= SAME_PERSON


def author_score(asked: str, authors: Iterable[str]) -> float | None:
    """Best name similarity of ``asked`` among ``authors``; None when either side is unknown."""
    from .matching import name_similarity

    names = [n for n in authors if n and n.strip()]
    if not asked or not names:
        return None
    return max(name_similarity(asked, n) for n in names)


def pick(asked: str, author: str, candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate that is the series ``asked`` (by ``author``), or None."""
    from .matching import fold, similarity

    scored: list[tuple[float, float, float, float, Candidate]] = []
    for cand in candidates:
        name = series_name_score(asked, cand.name)
        if name <= 0:
            continue
        by = author_score(author, cand.authors)
        if by is not None and by < SAME_PERSON:
            continue  # credited to someone else
        if name < 1.0 and by is None:
            continue  # a looser name needs the author to vouch for it
        raw = similarity(fold(asked), fold(cand.name))
        scored.append((name, by if by is not None else 0.0, cand.weight, raw, cand))
    if not scored:
        return None
    scored.sort(key=lambda s: s[:4], reverse=True)
    best = scored[0]
    rivals = [s for s in scored[1:] if s[:4] == best[:4] and s[4].ref != best[4].ref]
    return None if rivals else best[4]


def pick_person(asked: str, candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate record that is the person ``asked`` (most similar name, then weight)."""
    from .matching import name_similarity

    scored = [(name_similarity(asked, c.name), c.weight, c) for c in candidates if c.name]
    scored = [s for s in scored if s[0] >= SAME_PERSON]
    if not scored:
        return None
    scored.sort(key=lambda s: s[:2], reverse=True)
    return scored[0][2]


def matched_name(entries: Iterable[Any]) -> str:
    """The series name a source's entries carry most often (what the source calls the series)."""
    from collections import Counter

    names: Counter[str] = Counter()
    for entry in entries:
        series = getattr(entry, "series", ()) or ()
        if series and series[0].name:
            names[series[0].name] += 1
    return names.most_common(1)[0][0] if names else ""

"""LibraryIndex: owned books indexed for fast "do I own this?" lookups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from abook.models import BookRef

from .distance import (
    NEAR_THRESHOLD,
    SAME_THRESHOLD,
    Match,
    _compare,
    _Prep,
    _prepare,
    _sig_tokens,
)
from .names import _NAME_PARTICLES


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

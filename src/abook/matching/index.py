"""LibraryIndex: owned books indexed for fast "do I own this?" lookups."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import product

from abook.models import BookRef

from .distance import (
    NEAR_THRESHOLD,
    SAME_THRESHOLD,
    Match,
    _compare,
    _norm_asin,
    _norm_isbn,
    _Prep,
    _prepare,
)
from .names import _NAME_PARTICLES, _NO_AUTHOR, name_tokens
from .text import _NUM_WORDS, _TENS_WORDS, fold
from .titles import _STOPWORDS, _clean_words

_KEY_SPLIT_RE = re.compile(r"[\W_]+")
# words that say nothing about which book it is: a key on them only adds candidates
_KEY_NOISE = _STOPWORDS | frozenset(
    {"unabridged", "abridged", "audiobook", "audiobooks", "audio", "book", "books", "mp3", "m4b",
     "m4a", "edition", "novel", "series", "vol", "volume", "part", "pt", "disc", "cd", "saga",
     "kbps", "retail", "eng", "english", "", "s"}
)
_NUMBER_WORDS = frozenset(_NUM_WORDS) | frozenset(_TENS_WORDS)


def _title_keys(title: str) -> frozenset[str]:
    """The blocking keys of a title: its folded words without noise, cheap to compute.

    Deliberately not :func:`parse_title` (which the full comparison uses): the index builds keys
    for every owned book, and only the few candidates a lookup finds are compared in full.
    Number words add their digits ("Nineteen Eighty-Four" is also "1984").
    """
    t = title.lower() if title.isascii() and "&" not in title else fold(title)
    if "'" in t:
        t = t.replace("'", "")  # "sorcerer's" -> "sorcerers", as parse_title does
    words = _KEY_SPLIT_RE.split(t)
    keys = frozenset(words) - _KEY_NOISE
    if not _NUMBER_WORDS.isdisjoint(keys):
        keys |= frozenset(_clean_words(t).split()) - _KEY_NOISE
    if not keys:
        keys = frozenset(words) - {""}
    return keys


@lru_cache(maxsize=200_000)
def _name_keys(name: str) -> tuple[str, ...]:
    toks = name_tokens(name)
    if " ".join(toks) in _NO_AUTHOR:
        return ()
    return tuple(t for t in toks if len(t) > 1 and t not in _NAME_PARTICLES)


@lru_cache(maxsize=100_000)
def _author_keys(authors: tuple[str, ...]) -> frozenset[str]:
    return frozenset(k for a in authors for k in _name_keys(a))


class LibraryIndex:
    """Owned books indexed for fast "do I own this?" lookups.

    Blocking keeps the expensive :func:`compare` to a handful of candidates per lookup:

    * ASIN / ISBN dictionaries answer outright;
    * the main block is keyed on (author name token, title word) pairs, so "sanderson" +
      "empire" lists only Sanderson's books with "empire" in the title, whatever the name order
      ("Sanderson, Brandon") or the rest of the title ("Mistborn: The Final Empire (Mistborn,
      Book 1)"); owned books without an author are keyed under "";
    * when that finds nothing (no author offered, or an author spelled differently), rare title
      words alone are tried; words on more than ``rare_cap`` books are skipped there.

    Building computes only these keys (folded words, cached name tokens); a book is prepared
    for the full comparison the first time a lookup makes it a candidate. Candidates are counted
    with ``Counter.update`` over posting lists (the loop runs in C) and only the
    ``max_candidates`` best are compared in full, and of those only the ones with at least half
    the evidence of the best (the same book scores every shared word with every shared name
    token; an author's other book or a namesake's shares one). A book whose every title word and
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
        self._books: list[BookRef] = []
        self._keys: list[frozenset[str]] = []  # each book's title keys
        self._by_asin: dict[str, list[int]] = {}
        self._by_isbn: dict[str, list[int]] = {}
        # defaultdicts: ``post[key].append(i)`` is one C call per posting; the build makes
        # about seven per book
        self._pair_post: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        self._title_post: defaultdict[str, list[int]] = defaultdict(list)
        for book in books:
            self.add(book)

    def __len__(self) -> int:
        return len(self._books)

    def add(self, book: BookRef) -> None:
        """Index one more owned (or just queued) book."""
        i = len(self._books)
        self._books.append(book)
        if book.asin and (asin := _norm_asin(book.asin)):
            self._by_asin.setdefault(asin, []).append(i)
        if book.isbn and (isbn := _norm_isbn(book.isbn)):
            self._by_isbn.setdefault(isbn, []).append(i)
        # the title field only: a subtitle field's words would add postings for every
        # descriptive word, and a book shorter than the offered title is kept anyway (below)
        titles = _title_keys(book.title or "")
        self._keys.append(titles)
        title_post, pair_post = self._title_post, self._pair_post
        for tok in titles:
            title_post[tok].append(i)
        names = book.authors if type(book.authors) is tuple else tuple(book.authors)
        for key in product(_author_keys(names) or ("",), titles):  # tuples made in C
            pair_post[key].append(i)

    def _prep(self, i: int) -> _Prep:
        return _prepare(self._books[i])

    def _rare_cap(self) -> int:
        if self.rare_cap is not None:
            return self.rare_cap
        return max(50, len(self._books) // 500)

    def _candidates(self, offered: BookRef) -> list[int]:
        found: set[int] = set()
        if offered.asin and (asin := _norm_asin(offered.asin)):
            found.update(self._by_asin.get(asin, ()))
        if offered.isbn and (isbn := _norm_isbn(offered.isbn)):
            found.update(self._by_isbn.get(isbn, ()))
        titles = _title_keys(offered.title or "")
        if offered.subtitle:
            titles |= _title_keys(offered.subtitle)  # lookups only: a few keys more is cheap
        counts: Counter[int] = Counter()
        post = self._pair_post
        # no author offered (a release name like "Brandon Sanderson - Mistborn 01 - ..."):
        # the author may be inside the title, so title words double as author tokens
        authors = _author_keys(tuple(offered.authors)) or titles
        # sorted: ties between candidates break the same way in every process (str hashing,
        # and so set order, is randomised per process)
        ordered = sorted(titles)
        for a in sorted(authors):
            for tok in ordered:
                hits = post.get((a, tok))
                if hits:
                    counts.update(hits)
        for tok in ordered:  # owned books that have no author
            hits = post.get(("", tok))
            if hits:
                counts.update(hits)
        if not counts:
            cap = self._rare_cap()
            for tok in ordered:
                hits = self._title_post.get(tok)
                if hits and len(hits) <= cap:
                    counts.update(hits)
        best = counts.most_common(self.max_candidates)
        if best:
            # a candidate with under half the evidence of the best one shares one word with the
            # title, or only a given name with the author: rarely close. Unless its whole title
            # is in the offered one ("Sapiens" in "Sapiens: A Brief History of Humankind", beside
            # the author's "Homo Deus: A Brief History of Tomorrow" sharing more words)
            floor = best[0][1] / 2
            found.update(i for i, n in best if n >= floor)
            keys = self._keys
            found.update(i for i in counts if keys[i] <= titles)
        return sorted(found)

    def _compared(self, offered: BookRef) -> list[Match]:
        b = _prepare(offered)
        out: list[Match] = []
        for i in self._candidates(offered):
            m = _compare(
                self._prep(i),
                b,
                same_threshold=self.same_threshold,
                near_threshold=self.near_threshold,
                weights=self.weights,
                level="work",
                only_close=True,
            )
            if m is not None:
                out.append(m)
        return out

    def matches(self, offered: BookRef, limit: int = 5) -> list[Match]:
        """Owned books that are the same as, or a near miss of, ``offered``; best first."""
        out = [m for m in self._compared(offered) if m.verdict != "different"]
        out.sort(key=lambda m: (m.verdict != "same", m.distance))
        return out[:limit]

    def find(self, offered: BookRef) -> Match | None:
        """The best owned match ("same" before "near_miss"), or None when nothing is close."""
        found = self.matches(offered, limit=1)
        return found[0] if found else None

    def nearest(self, offered: BookRef, *, min_title: float = 0.9) -> Match | None:
        """The closest owned book whose title is at least ``min_title`` alike, whatever the
        verdict: with :meth:`find` empty, the owned book ``offered`` was told apart from ("Owen
        King, not Stephen King"; "volume 2 on one side only"), for the reason a user reads."""
        order = {"same": 0, "near_miss": 1, "different": 2}
        close = [m for m in self._compared(offered) if m.title_similarity >= min_title]
        close.sort(key=lambda m: (order[m.verdict], -m.title_similarity, m.distance))
        return close[0] if close else None

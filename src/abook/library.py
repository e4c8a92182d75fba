"""What the library mirror *is*: Audiobookshelf's records, abook's ``books`` rows, and the one
way a row becomes a :class:`~abook.models.BookRef`.

Pure (no I/O, no SQL). The Audiobookshelf client returns :class:`AbsItem` and :class:`AbsLibrary`
records, so no workflow ever reads ABS's JSON; ``state.py`` stores the rows :func:`book_row` makes,
and every workflow that compares owned books with offered ones builds them with :func:`book_ref`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .models import BookRef, SeriesRef

# Columns of `books` that scan owns (everything except abook's own bookkeeping).
BOOK_FIELDS = (
    "library_id", "media_id", "path", "title", "subtitle", "authors", "author_name", "narrators",
    "series", "series_name", "isbn", "asin", "year", "publisher", "description", "genres", "tags",
    "language", "abridged", "explicit", "has_cover", "duration", "size", "num_audio_files",
    "added_at", "updated_at", "completeness", "fingerprint", "is_missing",
)

# The metadata fields whose presence makes up the completeness figure (and the report's table).
COMPLETENESS_FIELDS = (
    "title", "authors", "narrators", "series", "description", "publisher", "year", "genres",
    "language", "isbn", "asin", "cover",
)

# The JSON list columns of a `books` row.
LIST_COLUMNS = ("authors", "narrators", "series", "genres", "tags")


# ------------------------------------------------------------------ Audiobookshelf's records
@dataclass(frozen=True)
class AbsLibrary:
    id: str
    name: str
    media_type: str
    folders: tuple[str, ...] = ()
    last_scan: int | None = None
    settings: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class AbsPerson:
    id: str | None
    name: str


@dataclass(frozen=True, slots=True)
class AbsSeries:
    id: str | None
    name: str
    sequence: str | None = None


@dataclass(frozen=True, slots=True)
class AbsAuthor:
    """One author of a library as ABS lists them (``GET /api/libraries/:id/authors``)."""

    id: str
    name: str
    asin: str | None = None
    num_books: int | None = None


@dataclass(frozen=True)
class AbsFilterData:
    """A library's name lists as ``GET /api/libraries/:id/filterdata`` gives them.

    ABS builds them from its tables and keeps them up to 30 minutes (adding names that edits
    create, not following renames), so they describe the library as of ``loaded_at`` (ms, the
    server's clock; None when the server did not say)."""

    authors: tuple[AbsPerson, ...] = ()
    series: tuple[AbsSeries, ...] = ()
    narrators: tuple[str, ...] = ()
    loaded_at: int | None = None


@dataclass(slots=True)  # not frozen: 50,000 are made per first scan, and frozen init is 2x slower
class AbsItem:
    """One library item as Audiobookshelf describes it.

    The list endpoints give the *minified* record: people and series only as ABS's joined
    strings (``author_name`` "A, B", ``narrator_name``, ``series_name`` "S #1, T #2.5"). An
    *expanded* record (``batch/get``, ``GET /api/items/:id?expanded=1``) also carries
    ``authors`` and ``series`` with their ids and ``narrators`` as a list; those are None on a
    minified one (:meth:`LibraryNames.resolve` fills them from the strings). Text fields keep
    ABS's None for "not set"; ``description`` is ABS's own text, HTML included (both records
    carry it; :func:`plain_text` makes the mirror's).
    """

    id: str
    library_id: str | None = None
    media_id: str | None = None
    media_type: str = "book"
    path: str | None = None
    rel_path: str = ""
    title: str | None = None
    subtitle: str | None = None
    author_name: str | None = None
    narrator_name: str | None = None
    series_name: str | None = None
    genres: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published_year: str | None = None
    publisher: str | None = None
    description: str | None = None
    isbn: str | None = None
    asin: str | None = None
    language: str | None = None
    explicit: bool = False
    abridged: bool = False
    cover_path: str | None = None
    duration: float = 0.0
    size: int = 0
    num_audio_files: int = 0
    added_at: int | None = None
    updated_at: int | None = None
    is_missing: bool = False
    authors: tuple[AbsPerson, ...] | None = None
    narrators: tuple[str, ...] | None = None
    series: tuple[AbsSeries, ...] | None = None

    @property
    def expanded(self) -> bool:
        return self.authors is not None

    def with_expanded(self, expanded: AbsItem | None) -> AbsItem:
        """The item's expanded record, with what only this (minified) record says filled in.

        The expanded record is the same item in full, so it wins; ``expanded`` is completed in
        place (it is made for this call and thrown away after)."""
        if expanded is None:
            return self
        for name in _METADATA_FIELDS:
            if getattr(expanded, name) is None:
                mine = getattr(self, name)
                if mine is not None:
                    setattr(expanded, name, mine)
        return expanded

    def metadata_values(self) -> dict[str, Any]:
        """The item's current values under the keys of ABS's ``PATCH /media`` ``metadata`` (and
        ``cover``), for "fill only what is empty" decisions."""
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "description": self.description,
            "publisher": self.publisher,
            "publishedYear": self.published_year,
            "isbn": self.isbn,
            "asin": self.asin,
            "genres": list(self.genres),
            "language": self.language,
            "narrators": list(self.narrators if self.narrators is not None else split_people(self.narrator_name)),
            "series": [{"name": s.name, "sequence": s.sequence} for s in self.series_refs()],
            "authors": [{"name": a.name} for a in self.people()],
            "cover": self.cover_path,
        }

    def people(self) -> tuple[AbsPerson, ...]:
        """The authors: from the expanded record, else split from ``author_name``."""
        if self.authors is not None:
            return self.authors
        return tuple(AbsPerson(None, n) for n in split_people(self.author_name))

    def series_refs(self, known: Iterable[str] = ()) -> tuple[AbsSeries, ...]:
        """The series: from the expanded record, else parsed from ``series_name``."""
        if self.series is not None:
            return self.series
        from .matching import split_series_name

        return tuple(AbsSeries(None, s.name, s.position) for s in split_series_name(self.series_name or "", known))


# The fields an expanded record may add to or correct in a minified one.
_METADATA_FIELDS = (
    "title", "subtitle", "author_name", "narrator_name", "series_name", "published_year", "publisher",
    "description", "isbn", "asin", "language", "authors", "narrators", "series",
)


def split_people(joined: str | None) -> list[str]:
    """ABS's joined people string ("A, B") as names (see :func:`abook.matching.split_names`)."""
    if not joined:
        return []
    from .matching import split_names

    return split_names(joined)


# ------------------------------------------------ the joined strings, split with the library's names
_JOIN = ", "  # ABS joins authors, narrators and series entries with it (server/models/Book.js)
_SEQ = " #"   # and writes a series with a sequence as "name #sequence"


def _cuts(text: str, sep: str) -> list[int]:
    out, at = [], text.find(sep)
    while at != -1:
        out.append(at)
        at = text.find(sep, at + 1)
    return out


def split_known(text: str, known: Mapping[str, Any] | frozenset[str]) -> tuple[str, ...] | None:
    """``text`` cut at ", " into names that are all in ``known``, when exactly one such cut exists.

    "Martin Luther King, Jr., Coretta Scott King" gives two names when the library knows
    "Martin Luther King, Jr." and "Coretta Scott King"; None when some piece is unknown or the
    pieces join in more than one way (the library knows "A", "B" and "A, B")."""
    if _JOIN not in text:
        return (text,) if text in known else None
    cuts = _cuts(text, _JOIN)
    starts = [0] + [c + 2 for c in cuts]
    ends = [*cuts, len(text)]
    m = len(starts)
    # ways[k]: how many cuts of text[starts[k]:] there are (counting stops at 2); nxt[k]: the
    # piece index after the first name of the one cut, when there is one.
    ways = [0] * (m + 1)
    nxt = [0] * m
    ways[m] = 1
    for k in range(m - 1, -1, -1):
        total = 0
        for j in range(k, m):
            if ways[j + 1] and text[starts[k]:ends[j]] in known:
                total += ways[j + 1]
                nxt[k] = j + 1
                if total > 1:
                    break
        ways[k] = min(total, 2)
    if ways[0] != 1:
        return None
    names, k = [], 0
    while k < m:
        names.append(text[starts[k]:ends[nxt[k] - 1]])
        k = nxt[k]
    return tuple(names)


def split_series_known(
    text: str, known: Mapping[str, Any] | frozenset[str]
) -> tuple[tuple[str, str | None], ...] | None:
    """ABS's ``seriesName`` as ``(name, sequence)`` pairs, every name one ``known`` series, when
    exactly one reading exists.

    ABS writes each series as "name #sequence" (just "name" without a sequence) and joins them
    with ", ", so a series called "Kitchen #5" or "Lord, Liar" is read right as long as only one
    reading uses known names; None otherwise (and for a sequence holding ", ", which no reading
    can tell from the next series)."""
    n = len(text)
    if not n:
        return ()
    if _JOIN not in text and _SEQ not in text:
        return ((text, None),) if text in known else None
    name_ends = sorted({*_cuts(text, _JOIN), *_cuts(text, _SEQ), n})
    memo: dict[int, tuple[int, tuple[tuple[str, str | None], ...]]] = {}

    def parse(p: int) -> tuple[int, tuple[tuple[str, str | None], ...]]:
        # (number of readings of text[p:], capped at 2; the reading when there is one)
        if p in memo:
            return memo[p]
        count, found = 0, ()
        for e in name_ends:
            if e <= p or text[p:e] not in known:
                continue
            name = text[p:e]
            tails: list[tuple[int, str | None]] = []  # (where the next series starts or n, sequence)
            if e == n:
                tails.append((n, None))
            elif text.startswith(_JOIN, e):
                tails.append((e + 2, None))
            if text.startswith(_SEQ, e):
                # A sequence is never empty (ABS writes no " #" then) and is taken to hold no
                # ", ": otherwise "S #1, T" could always be series S numbered "1, T".
                q = e + 2
                c = text.find(_JOIN, q)
                if c == -1 and n > q:
                    tails.append((n, text[q:]))
                elif c > q:
                    tails.append((c + 2, text[q:c]))
            for after, seq in tails:
                sub_count, sub = (1, ()) if after == n else parse(after)
                if sub_count:
                    count += sub_count
                    found = ((name, seq), *sub)
                if count > 1:
                    break
            if count > 1:
                break
        memo[p] = (min(count, 2), found if count == 1 else ())
        return memo[p]

    count, reading = parse(0)
    return reading if count == 1 else None


class LibraryNames:
    """A library's own names (author name -> id, series name -> id, narrators), to read the joined
    strings of minified items without asking for their expanded records.

    ``authors`` come from ``GET /api/libraries/:id/authors`` (ABS drops its cached answers on every
    write) read *after* the filterdata that gives ``series``, ``narrators`` and ``as_of``. An item
    ABS changed at or after ``as_of`` may name what the lists do not know yet: a series made since
    (or deleted and made again under a new id), a narrator or author "A, B" while "A" and "B" are
    known. For such an item only what cannot be wrong is taken: names without a ", " (an author's
    id from the authors list); anything else is asked for in full."""

    __slots__ = ("as_of", "authors", "narrators", "series")

    def __init__(self, authors: Iterable[AbsAuthor | AbsPerson], filterdata: AbsFilterData) -> None:
        self.authors = _ids(authors)
        self.series = _ids(filterdata.series)
        self.narrators = frozenset(filterdata.narrators)
        self.as_of = filterdata.loaded_at

    def resolve(self, item: AbsItem) -> AbsItem | None:
        """``item`` with ``authors``, ``narrators`` and ``series`` read from its strings (set in place),
        or None when they cannot be read with certainty: then only its expanded record will do."""
        if item.expanded:
            return item
        recent = self.as_of is None or item.updated_at is None or item.updated_at >= self.as_of
        authors: tuple[AbsPerson, ...] = ()
        if item.author_name:
            if recent and _JOIN in item.author_name:
                return None
            names = split_known(item.author_name, self.authors)
            if names is None:
                return None
            people = []
            for name in names:
                author_id = self.authors[name]
                if author_id is None:
                    return None
                people.append(AbsPerson(author_id, name))
            authors = tuple(people)
        narrators: tuple[str, ...] = ()
        if item.narrator_name:
            if _JOIN not in item.narrator_name:
                narrators = (item.narrator_name,)
            elif recent:
                return None
            else:
                found = split_known(item.narrator_name, self.narrators)
                if found is None:
                    return None
                narrators = found
        series: tuple[AbsSeries, ...] = ()
        if item.series_name:
            if recent:
                return None
            pairs = split_series_known(item.series_name, self.series)
            if pairs is None:
                return None
            entries = []
            for name, seq in pairs:
                series_id = self.series[name]
                if series_id is None:
                    return None
                entries.append(AbsSeries(series_id, name, seq))
            series = tuple(entries)
        item.authors, item.narrators, item.series = authors, narrators, series
        return item


def _ids(records: Iterable[AbsAuthor | AbsPerson | AbsSeries]) -> dict[str, str | None]:
    """name -> id; None for a name two records share (which one an item means is unknowable)."""
    out: dict[str, str | None] = {}
    for rec in records:
        if rec.name in out and out[rec.name] != rec.id:
            out[rec.name] = None
        else:
            out[rec.name] = rec.id
    return out


# ABS's descriptionPlain is sanitize-html with no tag allowed (server/utils/htmlSanitizer.js
# stripAllTags): tags and comments go, the text of script/style/textarea/option goes with them,
# entities are decoded once.
_DROP_WITH_TEXT = re.compile(r"<(script|style|textarea|option)\b[^>]*>.*?(?:</\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"<!--.*?(?:-->|$)|<[!?][^>]*>|</?[A-Za-z][^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>", re.S)


def plain_text(text: str | None) -> str | None:
    """A description as ABS's ``descriptionPlain`` has it, computed from the ``description`` both
    the minified and the expanded record carry, so either gives the mirror the same text."""
    if not text or ("<" not in text and "&" not in text):
        return text
    if "<" in text:
        text = _TAG.sub("", _DROP_WITH_TEXT.sub("", text))
    return html.unescape(text) if "&" in text else text


def select_libraries(libraries: Sequence[AbsLibrary], wanted: str) -> list[AbsLibrary]:
    """The book libraries to manage: ``wanted`` by name or id (case-insensitive), or all."""
    books = [lib for lib in libraries if lib.media_type == "book"]
    if not wanted:
        if not books:
            raise ConfigError("Audiobookshelf has no book library this ABS_TOKEN may see")
        return books
    low = wanted.strip().lower()
    chosen = [lib for lib in books if lib.id == wanted.strip() or lib.name.lower() == low]
    if not chosen:
        names = ", ".join(repr(lib.name) for lib in books) or "none"
        raise ConfigError(f"ABS_LIBRARY={wanted!r} is not a book library on this server; known: {names}")
    return chosen


# ----------------------------------------------------------------------- the mirror's rows
def fingerprint(item: AbsItem) -> str:
    """What decides "changed" (see :func:`fingerprint_of`)."""
    return fingerprint_of(item.updated_at, item.is_missing, item.author_name, item.narrator_name, item.series_name)


def fingerprint_of(
    updated_at: int | None, is_missing: bool, author_name: str | None, narrator_name: str | None,
    series_name: str | None,
) -> str:
    """``updatedAt`` plus the name strings ABS recomputes on renames.

    ABS bumps ``updatedAt`` on every edit, match and rescan, but renaming an author or a series
    changes ``authorName``/``seriesName`` without bumping it; ``isMissing`` flips on its own too.
    Cheap on purpose: it runs for every item of every scan. (The text is the one earlier versions
    stored, so an existing state file is not re-read in full.)
    """
    return f"{updated_at}|{is_missing}|{author_name}|{narrator_name}|{series_name}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
try:  # the same text as _encode, ten times faster (five lists per row, 50,000 rows per first scan)
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson_dumps = None


def _dumps(value: list[Any]) -> str:
    if not value:
        return "[]"
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(value).decode()
        except TypeError:  # a lone surrogate: orjson refuses what json writes as an escape
            pass
    return _encode(value)


def book_row(item: AbsItem, known_series: Iterable[str] = (), fp: str | None = None) -> dict[str, Any]:
    """One ``books`` row from an item (its expanded parts when it has them)."""
    authors = [{"id": a.id, "name": a.name} for a in item.people()]
    narrators = list(item.narrators) if item.narrators is not None else split_people(item.narrator_name)
    series = [{"id": s.id, "name": s.name, "sequence": _text(s.sequence)} for s in item.series_refs(known_series)]
    row = {
        "id": item.id,
        "library_id": item.library_id,
        "media_id": item.media_id,
        "path": item.path,
        "title": _text(item.title),
        "subtitle": _text(item.subtitle),
        "authors": _dumps(authors),
        "author_name": _text(item.author_name) or ", ".join(a["name"] for a in authors if a["name"]),
        "narrators": _dumps(narrators),
        "series": _dumps(series),
        "series_name": _text(item.series_name),
        "isbn": _text(item.isbn),
        "asin": _text(item.asin),
        "year": _text(item.published_year),
        "publisher": _text(item.publisher),
        "description": _text(plain_text(item.description)),
        "genres": _dumps(list(item.genres)),
        "tags": _dumps(list(item.tags)),
        "language": _text(item.language),
        "abridged": 1 if item.abridged else 0,
        "explicit": 1 if item.explicit else 0,
        "has_cover": 1 if item.cover_path else 0,
        "duration": float(item.duration or 0.0),
        "size": int(item.size or 0),
        "num_audio_files": int(item.num_audio_files or 0),
        "added_at": item.added_at,
        "updated_at": item.updated_at,
        "fingerprint": fp or fingerprint(item),
        "is_missing": 1 if item.is_missing else 0,
    }
    row["completeness"] = completeness(row)
    return row


def completeness(row: Mapping[str, Any]) -> float:
    """The share of :data:`COMPLETENESS_FIELDS` a row has filled (0..1)."""
    filled = 0
    for name in COMPLETENESS_FIELDS:
        value = row.get("has_cover" if name == "cover" else name)
        if name in ("authors", "narrators", "series", "genres"):
            filled += bool(value and value != "[]")
        else:
            filled += bool(value)
    return round(filled / len(COMPLETENESS_FIELDS), 3)


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored ``books`` row with its JSON columns parsed (lists, and the field -> source map)."""
    for key in LIST_COLUMNS:
        raw = row.get(key)
        row[key] = json.loads(raw) if raw else []
    raw = row.get("metadata_source")
    row["metadata_source"] = json.loads(raw) if raw else {}
    return row


def book_ref(row: Mapping[str, Any]) -> BookRef:
    """A ``books`` row (as ``State.books`` returns it) as the record matching compares."""
    return BookRef(
        title=row.get("title") or "",
        subtitle=row.get("subtitle") or "",
        authors=tuple(a["name"] for a in row.get("authors") or [] if a.get("name")),
        series=tuple(SeriesRef(s["name"], s.get("sequence")) for s in row.get("series") or [] if s.get("name")),
        narrators=tuple(row.get("narrators") or ()),
        asin=row.get("asin") or "",
        isbn=row.get("isbn") or "",
        year=row.get("year") or "",
        language=row.get("language") or "",
        ref=row.get("id") or "",
    )

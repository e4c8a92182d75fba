"""The arithmetic of series and author bibliographies: what a group lacks, purely.

Used by ``fill-series`` / ``fill-authors`` (:mod:`abook.workflows.gaps`) and ``missing``
(:mod:`abook.workflows.missing`); nothing here does I/O. Each bibliography entry is classified
(:func:`entry_skip_reason`, :func:`find_gaps`):

* an omnibus / box set (a range position such as "1-3", ``BibEntry.kind == omnibus`` or an
  omnibus title) is never a missing book: its parts are what is wanted;
* only primary works (whole-number positions) are wanted; ``--include-novellas`` adds fractional
  positions ("0.5", "2.5") and, for authors, unnumbered companions of a series;
* a book not out yet, or one the source says has no audio edition, is not missing;
* owned = the matching of top10 says "same work", or an owned book of the same series sits at
  that position (an owned omnibus "1-3" covers 1, 2 and 3); a near miss of an owned book is
  reported as uncertain and not grabbed;
* a book abook already queued or downloaded is not missing (status ``queued``/``downloading``).

The groups (owned series, collected authors) come from the mirror's rows; the fetch order,
the ``missing_books`` row shapes and the choice among acceptable torrents are here too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .acquisition import Policy, Verdict, judge, release_rank
from .errors import ConfigError
from .library import book_ref
from .models import BibEntry, DownloadStatus, MissingStatus

if TYPE_CHECKING:
    from .matching import LibraryIndex
    from .models import BookRef, Release

#: a book credited to this many authors or more is an anthology: it does not make its
#: contributors "collected" authors and is never an author's missing book.
ANTHOLOGY_MIN_AUTHORS = 3

SERIES_GAP = "series_gap"

AUTHOR_GAP = "author_gap"

#: statuses of a missing_books row, as ``abook missing`` shows them
STATUSES = (MissingStatus.WANTED, MissingStatus.QUEUED, MissingStatus.DOWNLOADING, MissingStatus.IN_LIBRARY,
            MissingStatus.NOT_FOUND)

def position_range(position: str | None) -> tuple[float, float] | None:
    from .matching import parse_position

    return parse_position(position) if position else None

def is_omnibus(entry: BibEntry) -> bool:
    """A box set / omnibus / "Books 1-3" entry: never a missing book itself."""
    from .matching import edition_class
    from .models import KIND_OMNIBUS

    if entry.kind == KIND_OMNIBUS:
        return True
    pos = position_range(entry.position)
    if pos is not None and pos[0] != pos[1]:
        return True
    return "omnibus" in edition_class(entry.title)

def is_anthology(title: str, authors: Sequence[str]) -> bool:
    """Many authors in one book (or a title that says so)."""
    from .matching import fold

    return len(authors) >= ANTHOLOGY_MIN_AUTHORS or "anthology" in fold(title)

def entry_skip_reason(entry: BibEntry, *, include_novellas: bool, kind: str = SERIES_GAP) -> str | None:
    """Why a bibliography entry cannot be a missing book, or None when it can. Pure."""
    from .matching import edition_class, is_primary_position

    if is_omnibus(entry):
        return "omnibus / box set (its parts are what is wanted)"
    if entry.is_audiobook is False:
        return "no audiobook edition"
    if entry.upcoming:
        return f"not released yet ({entry.release_date or 'announced'})"
    if "summary" in edition_class(entry.title):
        return "a summary / study guide"
    if kind == AUTHOR_GAP and is_anthology(entry.title, entry.authors):
        return "multi-author anthology"
    in_series = kind == SERIES_GAP or bool(entry.series)
    position = entry.position
    if in_series and position is None:
        if kind == SERIES_GAP:
            return "companion without a series number"
        if not include_novellas:
            return "companion of a series (--include-novellas adds it)"
        return None
    if in_series and position is not None:
        if position_range(position) is None:
            return f"unreadable series position {position!r}"
        if not is_primary_position(position) and not include_novellas:
            return f"novella / short work #{position} (--include-novellas adds it)"
    return None

def _entry_rank(entry: BibEntry) -> tuple[int, int, int]:
    """Which of several entries for one slot stands for it: an unabridged, non-dramatized
    audiobook first, then the source's order."""
    from .matching import edition_class

    classes = edition_class(entry.title)
    return (
        0 if entry.abridged is not True and "abridged" not in classes else 1,
        0 if "dramatized" not in classes else 1,
        0 if entry.is_audiobook else 1,
    )

def slot_key(entry: BibEntry, kind: str) -> str:
    """The identity of a missing book inside its group: the series position for a series (a
    source change keeps the row), the comparable title for an author."""
    from .matching import normalize_title, parse_position

    if kind == SERIES_GAP and entry.position:
        pos = parse_position(entry.position)
        if pos is not None:
            return "pos:" + _fmt(pos[0]) + ("" if pos[0] == pos[1] else "-" + _fmt(pos[1]))
    return "title:" + normalize_title(entry.title)

def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"

def dedupe_entries(entries: Iterable[BibEntry], kind: str) -> list[BibEntry]:
    """One entry per slot (position, or title for authors), the best edition, source order kept."""
    best: dict[str, BibEntry] = {}
    order: list[str] = []
    for entry in entries:
        if not entry.title:
            continue
        key = slot_key(entry, kind)
        if key not in best:
            best[key] = entry
            order.append(key)
        elif _entry_rank(entry) < _entry_rank(best[key]):
            best[key] = entry
    return [best[k] for k in order]

@dataclass(frozen=True)
class Group:
    """One owned series or one collected author."""

    kind: str  # SERIES_GAP | AUTHOR_GAP
    id: str
    name: str
    author: str  # the series' main author; the author's own name
    owned: tuple[BookRef, ...] = ()
    library_id: str | None = None

    @property
    def label(self) -> str:
        return self.name

@dataclass
class Gap:
    """One bibliography entry that is missing (or was, with its current status)."""

    kind: str
    group: Group
    entry: BibEntry
    key: str
    status: str = MissingStatus.WANTED
    reason: str = ""
    row_id: int | None = None
    download_id: int | None = None
    last_search: str | None = None

    @property
    def title(self) -> str:
        return self.entry.title

    @property
    def author(self) -> str:
        return self.entry.authors[0] if self.entry.authors else self.group.author

    def book(self) -> BookRef:
        """What a torrent must be the same work as."""
        from .models import BookRef, SeriesRef

        series = self.entry.series
        if self.kind == SERIES_GAP:
            others = tuple(s for s in series if s.name and s.name != self.group.name)
            series = (SeriesRef(self.group.name, self.entry.position), *others)
        return BookRef(
            title=self.entry.title,
            authors=self.entry.authors or (self.group.author,),
            series=series,
            narrators=self.entry.narrators,
            asin=self.entry.asin,
            isbn=self.entry.isbn,
            year=self.entry.year,
            ref=f"gap:{self.key}",
        )

@dataclass(frozen=True)
class Classified:
    """The outcome of :func:`find_gaps` for one group."""

    wanted: int  # entries of the wanted kind (primary works, + novellas when asked)
    owned: list[tuple[BibEntry, str]]  # (entry, why it counts as owned)
    queued: list[BibEntry]  # already queued or downloaded by abook
    missing: list[BibEntry]
    uncertain: list[tuple[BibEntry, str]]  # near misses of owned books: not grabbed
    skipped: list[tuple[BibEntry, str]]  # not wanted: omnibus, novella, upcoming, ...

def owned_positions(group: Group) -> list[tuple[float, float]]:
    """Position ranges of the group's owned books in this very series (an omnibus covers a range)."""
    from .matching import normalize_series

    want = normalize_series(group.name)
    out = []
    for book in group.owned:
        for s in book.series:
            if s.name and normalize_series(s.name) == want:
                pos = position_range(s.position)
                if pos is not None:
                    out.append(pos)
    return out

def find_gaps(
    group: Group,
    entries: Sequence[BibEntry],
    owned: LibraryIndex,
    queued: LibraryIndex,
    *,
    include_novellas: bool = False,
) -> Classified:
    """Split a group's bibliography into owned / queued / missing / uncertain / skipped. Pure."""
    covered = owned_positions(group) if group.kind == SERIES_GAP else []
    result = Classified(0, [], [], [], [], [])
    count = 0  # entries of the wanted kind
    for entry in dedupe_entries(entries, group.kind):
        why = entry_skip_reason(entry, include_novellas=include_novellas, kind=group.kind)
        if why:
            result.skipped.append((entry, why))
            continue
        count += 1
        gap = Gap(group.kind, group, entry, slot_key(entry, group.kind))
        book = gap.book()
        pos = position_range(entry.position) if group.kind == SERIES_GAP else None
        if pos is not None:
            cover = next((r for r in covered if r[0] <= pos[0] and pos[1] <= r[1]), None)
            if cover is not None:
                label = _fmt(cover[0]) if cover[0] == cover[1] else f"{_fmt(cover[0])}-{_fmt(cover[1])}"
                result.owned.append((entry, f"owned #{label} of {group.name}"))
                continue
        match = owned.find(book)
        if match is not None and match.verdict == "same":
            result.owned.append((entry, f"owned: {match.owned.title!r}"))
            continue
        qmatch = queued.find(book)
        if qmatch is not None and qmatch.verdict == "same":
            result.queued.append(entry)
            continue
        if match is not None and match.verdict == "near_miss":
            result.uncertain.append((entry, f"near miss of owned {match.owned.title!r} ({match.reason})"))
            continue
        result.missing.append(entry)
    return Classified(count, result.owned, result.queued, result.missing, result.uncertain, result.skipped)

def download_state(download_status: str | None) -> str | None:
    """The missing_books status a download's status implies (None: no live download)."""
    if download_status in (DownloadStatus.PENDING, DownloadStatus.QUEUED):
        return MissingStatus.QUEUED
    if download_status in (DownloadStatus.DOWNLOADING, DownloadStatus.COMPLETED):
        return MissingStatus.DOWNLOADING
    if download_status in (DownloadStatus.IMPORTED, DownloadStatus.DONE):
        return MissingStatus.IN_LIBRARY
    return None

def effective_status(row: dict[str, Any]) -> str:
    """A row's status as it stands now: a linked download's progress overrides the stored one;
    a failed download makes the book wanted again."""
    dl = row.get("download_status")
    implied = download_state(dl)
    if implied is not None:
        return implied
    if dl == DownloadStatus.FAILED and row.get("status") in (MissingStatus.QUEUED, MissingStatus.DOWNLOADING):
        return MissingStatus.WANTED
    return row.get("status") or MissingStatus.WANTED

def due_for_search(status: str, last_search: str | None, now: datetime, retry_days: int) -> bool:
    """Wanted books are searched; a not_found one only after ``retry_days``."""
    from .times import parse_iso

    if status == MissingStatus.WANTED:
        return True
    if status != MissingStatus.NOT_FOUND:
        return False
    when = parse_iso(last_search)
    return when is None or now - when >= timedelta(days=retry_days)

def author_counts(books: Iterable[BookRef]) -> Counter[str]:
    """Owned books per normalised author name (anthologies not counted)."""
    from .matching import normalize_name

    counts: Counter[str] = Counter()
    for book in books:
        if is_anthology(book.title, book.authors):
            continue
        for name in {normalize_name(a) for a in book.authors if a}:
            counts[name] += 1
    return counts

def order_gaps(gaps: Iterable[Gap], counts: Counter[str]) -> list[Gap]:
    """Fetch order: the author the user owns most books of first, then group, then series order
    (position), then year and title. Pure."""
    from .matching import fold, normalize_name

    def key(gap: Gap) -> tuple[Any, ...]:
        pos = position_range(gap.entry.position)
        return (
            -counts.get(normalize_name(gap.group.author), 0),
            fold(gap.group.name),
            gap.group.id,
            pos[0] if pos is not None else float("inf"),
            gap.entry.year or "9999",
            fold(gap.entry.title),
        )

    return sorted(gaps, key=key)

def judge_all(
    book: BookRef,
    releases: Iterable[Release],
    policy: Policy,
    *,
    owned: LibraryIndex | None = None,
    queued: LibraryIndex | None = None,
    mine: Callable[[Release], Mapping[str, Any] | None] = lambda r: None,
) -> list[tuple[Release, Verdict]]:
    """Each release with :func:`abook.acquisition.judge`'s verdict, ``book`` being the wanted
    work (owned and queued books and abook's own records as given; none by default). Pure."""
    from .matching import LibraryIndex

    owned = owned if owned is not None else LibraryIndex()
    queued = queued if queued is not None else LibraryIndex()
    return [(r, judge(r, policy, owned=owned, queued=queued, mine=mine(r), target=book)) for r in releases]


def best_of(judged: Iterable[tuple[Release, Verdict]]) -> tuple[Release | None, list[tuple[Release, str]]]:
    """The best release among those judged new (:func:`~abook.acquisition.release_rank`), and the
    refused ones with their reasons. Pure."""
    ok: list[Release] = []
    refused: list[tuple[Release, str]] = []
    for release, verdict in judged:
        if verdict.grabbable:
            ok.append(release)
        else:
            refused.append((release, verdict.reason))
    ok.sort(key=release_rank, reverse=True)
    return (ok[0] if ok else None), refused


def choose_release(
    book: BookRef,
    releases: Iterable[Release],
    policy: Policy,
    *,
    failed_before: Callable[[Release], bool] = lambda r: False,
) -> tuple[Release | None, list[tuple[Release, str]]]:
    """:func:`best_of` :func:`judge_all` against an empty library: the torrent to take for
    ``book``, and the refusals (``failed_before`` says which torrents abook gave up on)."""
    failed = {"status": DownloadStatus.FAILED}
    return best_of(judge_all(book, releases, policy, mine=lambda r: failed if failed_before(r) else None))


def series_groups(rows: Iterable[dict[str, Any]]) -> list[Group]:
    """Every series with at least one owned book (ids as scan keeps them in ``series``)."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        book = book_ref(row)
        for s in row.get("series") or []:
            name = s.get("name")
            if not name:
                continue
            sid = s.get("id") or f"name:{name.lower()}"
            g = found.setdefault(sid, {"name": name, "books": [], "authors": Counter(),
                                       "library": row.get("library_id")})
            g["books"].append(book)
            g["authors"].update(book.authors[:1])
    out = []
    for sid, g in found.items():
        author = g["authors"].most_common(1)[0][0] if g["authors"] else ""
        out.append(Group(SERIES_GAP, sid, g["name"], author, tuple(g["books"]), g["library"]))
    return sorted(out, key=lambda g: g.name.casefold())

def author_groups(rows: Iterable[dict[str, Any]], min_owned: int = 1) -> list[Group]:
    """Authors with at least ``min_owned`` owned books; anthologies do not count."""
    from .matching import normalize_name

    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        book = book_ref(row)
        authors = [a for a in row.get("authors") or [] if a.get("name")]
        if is_anthology(book.title, [a["name"] for a in authors]):
            continue
        for a in authors:
            key = normalize_name(a["name"])
            g = found.setdefault(key, {"ids": Counter(), "names": Counter(), "books": [],
                                       "library": row.get("library_id")})
            g["ids"].update([a.get("id") or f"name:{key}"])
            g["names"].update([a["name"]])
            g["books"].append(book)
    out = []
    for g in found.values():
        if len(g["books"]) < max(1, min_owned):
            continue
        name = g["names"].most_common(1)[0][0]
        out.append(Group(AUTHOR_GAP, g["ids"].most_common(1)[0][0], name, name, tuple(g["books"]), g["library"]))
    return sorted(out, key=lambda g: g.name.casefold())

def select_groups(groups: list[Group], *, series: str | None = None, author: str | None = None) -> list[Group]:
    """``--series NAME`` / ``--author NAME`` (compared normalised); ConfigError if none matches."""
    from .matching import normalize_name, normalize_series

    if series:
        want = normalize_series(series)
        chosen = [g for g in groups if normalize_series(g.name) == want]
        if not chosen:
            raise ConfigError(f"--series {series!r}: no owned series has that name (run `abook scan` first?)")
        return chosen
    if author:
        want = normalize_name(author)
        chosen = [g for g in groups if normalize_name(g.name) == want]
        if not chosen:
            raise ConfigError(
                f"--author {author!r}: no author with at least the required owned books has that name"
            )
        return chosen
    return groups

def row_key(row: dict[str, Any], kind: str) -> str:
    from .matching import normalize_title, parse_position

    if kind == SERIES_GAP and row.get("position"):
        pos = parse_position(row["position"])
        if pos is not None:
            return "pos:" + _fmt(pos[0]) + ("" if pos[0] == pos[1] else "-" + _fmt(pos[1]))
    return "title:" + normalize_title(row.get("title") or "")

def gap_order(gap: Gap) -> tuple[Any, ...]:
    pos = position_range(gap.entry.position)
    return (pos[0] if pos is not None else float("inf"), gap.entry.year or "9999", gap.title.casefold())

def gap_from_row(row: dict[str, Any], group: Group) -> Gap:
    from .models import SeriesRef

    authors = tuple(a.strip() for a in (row.get("author_name") or "").split(",") if a.strip())
    series = (SeriesRef(row["series_name"], row.get("position")),) if row.get("series_name") else ()
    entry = BibEntry(title=row.get("title") or "", authors=authors, position=row.get("position"),
                     asin=row.get("asin") or "", isbn=row.get("isbn") or "", series=series,
                     source=row.get("source") or "")
    return Gap(group.kind, group, entry, row_key(row, group.kind), status=effective_status(row),
               row_id=row["id"], download_id=row.get("download_id"), last_search=row.get("last_search"))

def missing_row(gap: Gap, source: str) -> dict[str, Any]:
    entry, group = gap.entry, gap.group
    if gap.kind == SERIES_GAP:
        series_id, series_name, author_id = group.id, group.name, None
        author_name = ", ".join(entry.authors) or group.author
        position = entry.position
    else:
        first = entry.series[0] if entry.series else None
        series_id, series_name, author_id = None, first.name if first else None, group.id
        author_name = group.name
        position = first.position if first else entry.position
    return {
        "id": gap.row_id,
        "kind": gap.kind,
        "series_id": series_id,
        "series_name": series_name,
        "author_id": author_id,
        "author_name": author_name,
        "title": entry.title,
        "position": position,
        "asin": entry.asin or None,
        "isbn": entry.isbn or None,
        "source": source or entry.source or None,
        "status": gap.status,
        "download_id": gap.download_id,
        "last_search": gap.last_search,
    }

def search_terms(gap: Gap) -> str:
    """The title as a tracker search wants it: no series suffix, tags or punctuation."""
    from .matching import parse_title

    text = parse_title(gap.title).text
    return text or gap.title

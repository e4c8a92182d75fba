"""``abook fill-series``, ``abook fill-authors`` and ``abook missing``: complete what the user collects.

A run has two phases.

**Find.** Every owned series (a series with at least one book in the library) or every collected
author (at least ``AUTHOR_MIN_OWNED`` owned books, multi-author anthologies not counted) gets its
bibliography from the first ``BIBLIOGRAPHY_SOURCES`` source that knows it. Answers are cached in
the state file for :data:`BIBLIOGRAPHY_CACHE_DAYS` days. Each entry is then classified, purely
(see :func:`entry_skip_reason`, :func:`find_gaps`):

* an omnibus / box set (a range position such as "1-3", ``BibEntry.kind == omnibus`` or an
  omnibus title) is never a missing book: its parts are what is wanted;
* only primary works (whole-number positions) are wanted; ``--include-novellas`` adds fractional
  positions ("0.5", "2.5") and, for authors, unnumbered companions of a series;
* a book not out yet, or one the source says has no audio edition, is not missing;
* owned = the matching of top10 says "same work", or an owned book of the same series sits at
  that position (an owned omnibus "1-3" covers 1, 2 and 3); a near miss of an owned book is
  reported as uncertain and not grabbed;
* a book abook already queued or downloaded is not missing (status ``queued``/``downloading``).

What is missing is kept in ``missing_books`` (one row per series position, or per title for an
author), together with the completion figures in ``series``/``authors``.

**Fetch.** Wanted rows are taken in order - authors the user owns most books of first, then each
series in reading order - and for each the tracker is searched for title + author. The best
torrent is the same work (not a near miss, not an omnibus), passes :func:`~.grab.screen`
(audiobook, language, edition class, not snatched before), and then wins on: has seeders,
freeleech/VIP, m4b over mp3, more seeders. At most ``GAP_MAX_DOWNLOADS_PER_RUN`` (``--max``) are
queued per run; the rest stay ``wanted`` for the next run. A book with no acceptable torrent
becomes ``not_found`` with the time and is searched again only after ``GAP_RETRY_DAYS``.

The ratio hold flag stops the fetch phase entirely (the find phase still records the gaps); the
command then exits 4. ``--dry-run`` reads the cache but writes nothing anywhere: no cache, no rows,
no downloads.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import AbookError, ConfigError
from ..library import book_ref
from ..progress import NullProgress, Progress
from .grab import Grabber, Policy, build_index, owned_books, queued_books, screen

if TYPE_CHECKING:
    from ..clients.qbittorrent import QBittorrent
    from ..matching import LibraryIndex
    from ..models import BookRef, Release
    from ..search import SearchSource
    from ..sources.base import BibEntry, Source
    from ..state import State

log = logging.getLogger("abook")

#: a cached bibliography is reused for this many days (a re-run in the same week asks no
#: source again; the next monthly run refetches, so new releases appear).
BIBLIOGRAPHY_CACHE_DAYS = 7
#: a book credited to this many authors or more is an anthology: it does not make its
#: contributors "collected" authors and is never an author's missing book.
ANTHOLOGY_MIN_AUTHORS = 3
#: tracker searches per run at most (each costs MAM_RATE_LIMIT_* seconds); the rest wait.
MAX_SEARCHES_PER_RUN = 100

SERIES_GAP = "series_gap"
AUTHOR_GAP = "author_gap"
#: statuses of a missing_books row, as ``abook missing`` shows them
STATUSES = ("wanted", "queued", "downloading", "in_library", "not_found")


# =============================================================================== pure logic
def position_range(position: str | None) -> tuple[float, float] | None:
    from ..matching import parse_position

    return parse_position(position) if position else None


def is_omnibus(entry: BibEntry) -> bool:
    """A box set / omnibus / "Books 1-3" entry: never a missing book itself."""
    from ..matching import edition_class
    from ..sources.base import KIND_OMNIBUS

    if entry.kind == KIND_OMNIBUS:
        return True
    pos = position_range(entry.position)
    if pos is not None and pos[0] != pos[1]:
        return True
    return "omnibus" in edition_class(entry.title)


def is_anthology(title: str, authors: Sequence[str]) -> bool:
    """Many authors in one book (or a title that says so)."""
    from ..matching import fold

    return len(authors) >= ANTHOLOGY_MIN_AUTHORS or "anthology" in fold(title)


def entry_skip_reason(entry: BibEntry, *, include_novellas: bool, kind: str = SERIES_GAP) -> str | None:
    """Why a bibliography entry cannot be a missing book, or None when it can. Pure."""
    from ..matching import edition_class, is_primary_position

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
    from ..matching import edition_class

    classes = edition_class(entry.title)
    return (
        0 if entry.abridged is not True and "abridged" not in classes else 1,
        0 if "dramatized" not in classes else 1,
        0 if entry.is_audiobook else 1,
    )


def slot_key(entry: BibEntry, kind: str) -> str:
    """The identity of a missing book inside its group: the series position for a series (a
    source change keeps the row), the comparable title for an author."""
    from ..matching import normalize_title, parse_position

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
    status: str = "wanted"
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
        from ..models import BookRef, SeriesRef

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
    from ..matching import normalize_series

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
    if download_status in ("pending", "queued"):
        return "queued"
    if download_status in ("downloading", "completed"):
        return "downloading"
    if download_status in ("imported", "done"):
        return "in_library"
    return None


def effective_status(row: dict[str, Any]) -> str:
    """A row's status as it stands now: a linked download's progress overrides the stored one;
    a failed download makes the book wanted again."""
    dl = row.get("download_status")
    implied = download_state(dl)
    if implied is not None:
        return implied
    if dl == "failed" and row.get("status") in ("queued", "downloading"):
        return "wanted"
    return row.get("status") or "wanted"


def due_for_search(status: str, last_search: str | None, now: datetime, retry_days: int) -> bool:
    """Wanted books are searched; a not_found one only after ``retry_days``."""
    from ..state import parse_iso

    if status == "wanted":
        return True
    if status != "not_found":
        return False
    when = parse_iso(last_search)
    return when is None or now - when >= timedelta(days=retry_days)


def author_counts(books: Iterable[BookRef]) -> Counter[str]:
    """Owned books per normalised author name (anthologies not counted)."""
    from ..matching import normalize_name

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
    from ..matching import fold, normalize_name

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


def release_rank(release: Release) -> tuple[int, int, int, int]:
    """Higher is better: has seeders, freeleech/VIP, m4b over mp3, more seeders."""
    types = {t.lower() for t in release.filetypes}
    return (
        1 if release.seeders > 0 else 0,
        1 if (release.freeleech or release.personal_freeleech or release.vip) else 0,
        1 if "m4b" in types else 0,
        release.seeders,
    )


def choose_release(
    book: BookRef,
    releases: Iterable[Release],
    policy: Policy,
    *,
    failed_before: Callable[[Release], bool] = lambda r: False,
) -> tuple[Release | None, list[tuple[Release, str]]]:
    """The best acceptable torrent for ``book`` and why each other one was refused. Pure."""
    from ..matching import compare

    ok: list[Release] = []
    refused: list[tuple[Release, str]] = []
    for release in releases:
        why = screen(release, policy)
        if why is None:
            match = compare(book, release.book())
            if match.verdict == "near_miss":
                why = f"near miss ({match.reason})"
            elif match.verdict != "same":
                why = f"a different book ({match.reason})"
            elif failed_before(release):
                why = "this torrent failed before"
        if why:
            refused.append((release, why))
        else:
            ok.append(release)
    ok.sort(key=release_rank, reverse=True)
    return (ok[0] if ok else None), refused


# ----------------------------------------------------------------- groups from the mirror
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
    from ..matching import normalize_name

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
    from ..matching import normalize_name, normalize_series

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


# ========================================================================= bibliographies
def entry_to_json(entry: BibEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["series"] = [[s["name"], s["position"]] for s in data["series"]]
    return data


def entry_from_json(data: dict[str, Any]) -> BibEntry:
    from ..models import SeriesRef
    from ..sources.base import BibEntry

    known = set(BibEntry.__dataclass_fields__)
    values = {k: v for k, v in data.items() if k in known}
    values["authors"] = tuple(values.get("authors") or ())
    values["narrators"] = tuple(values.get("narrators") or ())
    values["series"] = tuple(SeriesRef(s[0], s[1]) for s in values.get("series") or ())
    return BibEntry(**values)


def cache_key(kind: str, name: str, author: str = "") -> str:
    from ..sources.base import norm_key

    if kind == SERIES_GAP:
        return f"series:{norm_key(name)}|{norm_key(author)}"
    return f"author:{norm_key(name)}"


@dataclass
class Bibliographies:
    """Asks the sources in order, first answer wins; a failing source is dropped for the run
    with one warning; answers are cached for BIBLIOGRAPHY_CACHE_DAYS (not in a dry run)."""

    state: State
    sources: list[Source]
    now: datetime
    dry_run: bool = False
    progress: Progress = field(default_factory=NullProgress)
    cache_days: int = BIBLIOGRAPHY_CACHE_DAYS
    dropped: dict[str, str] = field(default_factory=dict)
    fetched: int = 0
    cached: int = 0

    def lookup(self, kind: str, name: str, author: str = "") -> tuple[list[BibEntry], str] | None:
        """(entries, source) or None when no source could answer (nothing cached then)."""
        from ..state import iso, parse_iso

        key = cache_key(kind, name, author)
        hit = self.state.bibliography_get(key)
        if hit is not None and isinstance(hit.get("payload"), dict):
            at = parse_iso(hit["fetched_at"])
            if at is not None and self.now - at < timedelta(days=self.cache_days):
                self.cached += 1
                entries = [entry_from_json(e) for e in hit["payload"].get("entries") or []]
                return entries, hit["source"] or ""
        answered = False
        for source in self.sources:
            if source.name in self.dropped:
                continue
            try:
                if kind == SERIES_GAP:
                    entries = source.series_books(name, author)
                else:
                    entries = source.author_books(name)
            except AbookError as exc:
                from ..sources.base import SourceUnavailable

                why = exc.reason if isinstance(exc, SourceUnavailable) else f"failed: {exc}"
                self.dropped[source.name] = why
                self.progress.warn(f"bibliography source {source.name} skipped for this run: {why}")
                continue
            if entries is None:
                continue  # this source cannot list such things
            answered = True
            if entries:
                self.fetched += 1
                self._put(key, source.name, entries, iso(self.now))
                return list(entries), source.name
        if not answered:
            return None
        self.fetched += 1
        self._put(key, "", [], iso(self.now))
        return [], ""

    def _put(self, key: str, source: str, entries: Sequence[BibEntry], when: str) -> None:
        if self.dry_run:
            return
        self.state.bibliography_put(key, source, {"entries": [entry_to_json(e) for e in entries]}, when)


# ================================================================================ results
@dataclass
class GroupResult:
    kind: str
    id: str
    name: str
    author: str
    source: str  # "" when unknown
    known: int | None  # wanted-kind entries the source lists (None: no source knew it)
    owned: int
    missing: list[Gap] = field(default_factory=list)  # every current row (wanted, queued, ...)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (title, why not wanted)
    uncertain: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.known is None:
            return "unknown"
        open_ = [g for g in self.missing if g.status != "in_library"]
        return "complete" if not open_ else "incomplete"


@dataclass
class FetchDecision:
    group: str
    title: str
    position: str | None
    decision: str  # queued | pending | held | would_queue | already | not_found | failed | deferred
    reason: str
    torrent: str = ""
    torrent_id: str = ""
    size: int = 0
    freeleech: bool = False
    filetype: str = ""
    seeders: int = 0


@dataclass
class GapsResult:
    kind: str  # SERIES_GAP | AUTHOR_GAP
    groups: list[GroupResult] = field(default_factory=list)
    decisions: list[FetchDecision] = field(default_factory=list)
    skipped_sources: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    held: str | None = None
    limit: int = 0
    left_wanted: int = 0  # still wanted after this run (the next run takes them)
    deferred: int = 0  # not_found, not yet due for another search

    @property
    def command(self) -> str:
        return "fill-series" if self.kind == SERIES_GAP else "fill-authors"

    def counts(self) -> dict[str, int]:
        d = Counter(x.decision for x in self.decisions)
        return {
            "groups": len(self.groups),
            "missing": sum(1 for g in self.groups for m in g.missing if m.status != "in_library"),
            "queued": d["queued"] + d["pending"] + d["would_queue"],
            "held": d["held"],
            "not_found": d["not_found"],
            "failed": d["failed"],
            "left": self.left_wanted,
        }


# ================================================================================== run
def run(
    state: State,
    sources: list[Source],
    search: SearchSource | None,
    qbt: QBittorrent | None,
    policy: Policy,
    *,
    kind: str,
    now: datetime,
    limit: int,
    retry_days: int,
    author_min_owned: int = 1,
    include_novellas: bool = False,
    series: str | None = None,
    author: str | None = None,
    dry_run: bool = False,
    task_id: int | None = None,
    guard: Any = None,
    progress: Progress | None = None,
) -> GapsResult:
    """Find the gaps of every owned series (``kind=series_gap``) or collected author
    (``author_gap``), record them, and queue up to ``limit`` of them."""
    progress = progress or NullProgress()
    if not sources:
        raise ConfigError(
            "BIBLIOGRAPHY_SOURCES gives no usable source (hardcover needs HARDCOVER_TOKEN, goodreads "
            "GOODREADS_ENABLED=true); add audible"
        )
    rows = state.books()
    groups = series_groups(rows) if kind == SERIES_GAP else author_groups(rows, author_min_owned)
    groups = select_groups(groups, series=series, author=author)
    owned_refs = owned_books(state)
    owned = build_index(owned_refs)
    queued = build_index(queued_books(state))
    counts = author_counts(owned_refs)
    bib = Bibliographies(state, sources, now, dry_run=dry_run, progress=progress)
    result = GapsResult(kind=kind, dry_run=dry_run, limit=limit)

    progress.start(f"{result.command}: bibliographies", len(groups))
    for group in groups:
        result.groups.append(_refresh_group(state, bib, group, owned, queued, include_novellas, now, dry_run))
        progress.advance()
    progress.done()
    result.skipped_sources = dict(bib.dropped)

    hold = state.hold()
    if hold:
        result.held = f"ratio hold is on ({hold}); nothing queued until `abook ratio-check` clears it"
    pool = [g for gr in result.groups for g in gr.missing]
    due = [g for g in pool if due_for_search(g.status, g.last_search, now, retry_days)]
    result.deferred = sum(1 for g in pool if g.status == "not_found" and g not in due)
    if result.held or search is None or limit <= 0:
        result.left_wanted = sum(1 for g in due)
        return result
    _fetch(state, search, qbt, policy, order_gaps(due, counts), queued, result,
           now=now, dry_run=dry_run, task_id=task_id, guard=guard, progress=progress)
    return result


def _refresh_group(
    state: State,
    bib: Bibliographies,
    group: Group,
    owned: LibraryIndex,
    queued: LibraryIndex,
    include_novellas: bool,
    now: datetime,
    dry_run: bool,
) -> GroupResult:
    """Fetch one bibliography, classify it, bring the group's missing_books rows up to date."""
    from ..state import iso

    rows = _rows_with_downloads(state, group)
    by_key = {_row_key(r, group.kind): r for r in rows}
    answer = bib.lookup(group.kind, group.name, group.author if group.kind == SERIES_GAP else "")
    gres = GroupResult(group.kind, group.id, group.name, group.author, "", None, 0)
    if answer is None or not answer[0]:
        # No source knows it (or none answered): keep what earlier runs found, untouched.
        gres.source = answer[1] if answer else ""
        for row in rows:
            gres.missing.append(_gap_from_row(row, group))
        if not dry_run and answer is not None and not rows:
            if group.kind == SERIES_GAP:
                state.set_series_gaps(group.id, group.name, known_total=None, missing=None, status="unknown",
                                      library_id=group.library_id, when=iso(now))
            else:
                state.set_author_gaps(group.id, group.name, owned=len(group.owned), known_total=None,
                                      missing=None, library_id=group.library_id, when=iso(now))
        return gres
    entries, source = answer
    found = find_gaps(group, entries, owned, queued, include_novellas=include_novellas)
    gres.source, gres.known, gres.owned = source, found.wanted, len(found.owned)
    gres.skipped = [(e.title, why) for e, why in found.skipped]
    gres.uncertain = [(e.title, why) for e, why in found.uncertain]
    writes: list[dict[str, Any]] = []
    seen: set[str] = set()

    def keep(entry: BibEntry, status: str) -> None:
        key = slot_key(entry, group.kind)
        seen.add(key)
        row = by_key.get(key)
        gap = Gap(group.kind, group, entry, key, status=status)
        if row is not None:
            gap.row_id, gap.download_id, gap.last_search = row["id"], row.get("download_id"), row.get("last_search")
            current = effective_status(row)
            via_download = download_state(row.get("download_status")) is not None
            if status == "wanted" and (current in ("not_found", "queued", "downloading")
                                       or (current == "in_library" and via_download)):
                gap.status = current  # keep the retry clock / the live download
            elif status == "queued" and current in ("downloading", "in_library") and via_download:
                gap.status = current
            if current == "wanted" and row.get("status") in ("queued", "downloading"):
                gap.download_id = None  # the download failed: search again
        gres.missing.append(gap)
        writes.append(_row_for(gap, source))

    for entry in found.missing:
        keep(entry, "wanted")
    for entry in found.queued:
        keep(entry, "queued")
    for entry, _why in found.owned:
        key = slot_key(entry, group.kind)
        if key in by_key:
            keep(entry, "in_library")
    stale = [r["id"] for k, r in by_key.items() if k not in seen and r["status"] in ("wanted", "not_found")]
    # rows for entries no longer listed but once queued stay as history
    for k, r in by_key.items():
        if k not in seen and r["status"] not in ("wanted", "not_found"):
            gres.missing.append(_gap_from_row(r, group))
    gres.missing.sort(key=lambda g: _gap_order(g))
    if not dry_run:
        with state.tx():
            state.save_missing(writes, stale)
            open_count = sum(1 for g in gres.missing if g.status not in ("in_library",))
            if group.kind == SERIES_GAP:
                state.set_series_gaps(group.id, group.name, known_total=found.wanted, missing=open_count,
                                      status="complete" if not open_count else "incomplete",
                                      library_id=group.library_id, when=iso(now))
            else:
                state.set_author_gaps(group.id, group.name, owned=len(group.owned), known_total=found.wanted,
                                      missing=open_count, library_id=group.library_id, when=iso(now))
        # fresh rows get their ids for the fetch phase
        ids = {_row_key(r, group.kind): r["id"] for r in state.missing_for(group.kind, group.id)}
        for gap in gres.missing:
            gap.row_id = gap.row_id or ids.get(gap.key)
    return gres


def _gap_order(gap: Gap) -> tuple[Any, ...]:
    pos = position_range(gap.entry.position)
    return (pos[0] if pos is not None else float("inf"), gap.entry.year or "9999", gap.title.casefold())


def _rows_with_downloads(state: State, group: Group) -> list[dict[str, Any]]:
    rows = state.missing_for(group.kind, group.id)
    if not rows:
        return rows
    ids = [r["download_id"] for r in rows if r.get("download_id")]
    status = {d["id"]: d["status"] for d in state.downloads() if d["id"] in set(ids)} if ids else {}
    for r in rows:
        r["download_status"] = status.get(r.get("download_id"))
    return rows


def _row_key(row: dict[str, Any], kind: str) -> str:
    from ..matching import normalize_title, parse_position

    if kind == SERIES_GAP and row.get("position"):
        pos = parse_position(row["position"])
        if pos is not None:
            return "pos:" + _fmt(pos[0]) + ("" if pos[0] == pos[1] else "-" + _fmt(pos[1]))
    return "title:" + normalize_title(row.get("title") or "")


def _gap_from_row(row: dict[str, Any], group: Group) -> Gap:
    from ..models import SeriesRef
    from ..sources.base import BibEntry

    authors = tuple(a.strip() for a in (row.get("author_name") or "").split(",") if a.strip())
    series = (SeriesRef(row["series_name"], row.get("position")),) if row.get("series_name") else ()
    entry = BibEntry(title=row.get("title") or "", authors=authors, position=row.get("position"),
                     asin=row.get("asin") or "", isbn=row.get("isbn") or "", series=series,
                     source=row.get("source") or "")
    return Gap(group.kind, group, entry, _row_key(row, group.kind), status=effective_status(row),
               row_id=row["id"], download_id=row.get("download_id"), last_search=row.get("last_search"))


def _row_for(gap: Gap, source: str) -> dict[str, Any]:
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


# ================================================================================= fetch
def search_terms(gap: Gap) -> str:
    """The title as a tracker search wants it: no series suffix, tags or punctuation."""
    from ..matching import parse_title

    text = parse_title(gap.title).text
    return text or gap.title


def _fetch(
    state: State,
    search: SearchSource,
    qbt: QBittorrent | None,
    policy: Policy,
    gaps: list[Gap],
    queued: LibraryIndex,
    result: GapsResult,
    *,
    now: datetime,
    dry_run: bool,
    task_id: int | None,
    guard: Any,
    progress: Progress,
) -> None:
    from ..state import iso

    grabber = Grabber(state, search, qbt, policy, dry_run=dry_run, task_id=task_id, guard=guard)
    reason = result.kind
    taken = searches = 0
    progress.start(f"{result.command}: searching", min(len(gaps), result.limit))

    def failed_before(release: Release) -> bool:
        row = state.find_download(source=release.source, torrent_id=release.torrent_id)
        return bool(row and row["status"] == "failed")

    def record(gap: Gap, **fields: Any) -> None:
        for k, v in fields.items():
            setattr(gap, k, v)
        if not dry_run and gap.row_id:
            state.update_missing(gap.row_id, **fields)

    for index, gap in enumerate(gaps):
        if taken >= result.limit or searches >= MAX_SEARCHES_PER_RUN:
            result.left_wanted = len(gaps) - index
            break
        base = {"group": gap.group.name, "title": gap.title, "position": gap.entry.position}
        book = gap.book()
        qmatch = queued.find(book)
        if qmatch is not None and qmatch.verdict == "same":
            record(gap, status="queued")
            result.decisions.append(FetchDecision(**base, decision="already",
                                                  reason="queued by abook in this run (same book)"))
            continue
        terms = search_terms(gap)
        searches += 1
        releases = search.find(terms, gap.author)
        if not releases and gap.author:
            searches += 1
            releases = search.find(terms, "")  # the tracker may spell the author differently
        best, refused = choose_release(book, releases, policy, failed_before=failed_before)
        if best is not None:
            mine = grabber.known(best)
            if mine is not None:
                record(gap, status=download_state(mine["status"]) or "queued", download_id=mine["id"],
                       last_search=iso(now))
                result.decisions.append(FetchDecision(**base, decision="already", reason=(
                    f"torrent already queued by abook ({mine['status']})"), **_torrent(best)))
                continue
        if best is None:
            why = "; ".join(f"{r.title!r}: {w}" for r, w in refused[:3]) if refused else "no results"
            record(gap, status="not_found", last_search=iso(now))
            result.decisions.append(FetchDecision(**base, decision="not_found",
                                                  reason=f"no acceptable torrent ({why})"))
            progress.event(f"not found: {gap.title} ({why})")
            continue
        outcome = grabber.grab(best, reason=reason, book=book)
        result.decisions.append(FetchDecision(**base, decision=outcome.decision, reason=outcome.reason,
                                              **_torrent(best)))
        progress.event(f"{outcome.decision}: {gap.title} <- {best.title} ({outcome.reason})")
        if outcome.decision in ("queued", "pending", "held", "would_queue"):
            taken += outcome.decision != "held"
            queued.add(book)
            queued.add(best.book())
            progress.advance()
            if outcome.download_id:
                record(gap, status="queued", download_id=outcome.download_id, last_search=iso(now))
            if outcome.decision == "held":
                result.held = f"the ratio guard refused a grab: {outcome.reason}"
                result.left_wanted = len(gaps) - index - 1
                break
        elif outcome.decision == "skipped":
            # the very torrent is already ours or already in qBittorrent: the book is on its way
            row = state.find_download(info_hash=outcome.info_hash) if outcome.info_hash else None
            record(gap, status="queued", download_id=row["id"] if row else gap.download_id, last_search=iso(now))
        # "failed": the tracker sent no torrent; the book stays wanted for the next run
    progress.done()


def _torrent(release: Release) -> dict[str, Any]:
    return {
        "torrent": release.title,
        "torrent_id": str(release.torrent_id),
        "size": release.size,
        "freeleech": bool(release.freeleech or release.personal_freeleech),
        "filetype": ",".join(release.filetypes),
        "seeders": release.seeders,
    }


# ================================================================================ missing
@dataclass
class MissingGroup:
    kind: str
    id: str
    name: str
    owned: int | None
    known: int | None
    last_check: str | None
    books: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "owned": self.owned, "known": self.known,
                "missing": sum(1 for b in self.books if b["status"] != "in_library"),
                "last_check": self.last_check, "books": self.books}


@dataclass
class MissingList:
    series: list[MissingGroup] = field(default_factory=list)
    authors: list[MissingGroup] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"schema": 1, "series": [g.as_dict() for g in self.series],
                "authors": [g.as_dict() for g in self.authors]}

    def counts(self) -> dict[str, int]:
        c = Counter(b["status"] for g in (*self.series, *self.authors) for b in g.books)
        return {s: c[s] for s in STATUSES}


def missing_list(state: State, *, series: str | None = None, author: str | None = None) -> MissingList:
    """What each series / author lacks, in reading order, with the current status. Read-only."""
    kind = SERIES_GAP if series else AUTHOR_GAP if author else None
    rows = state.missing_books(kind, series=series, author=author)
    figures = {("series_gap", r["id"]): r for r in state.series_completion()}
    figures.update({("author_gap", r["id"]): r for r in state.authors_by_gaps(limit=1_000_000)})
    groups: dict[tuple[str, str], MissingGroup] = {}
    for row in rows:
        gid = row["series_id"] if row["kind"] == SERIES_GAP else row["author_id"]
        name = row["series_name"] if row["kind"] == SERIES_GAP else row["author_name"]
        fig = figures.get((row["kind"], gid)) or {}
        known = fig.get("known_total")
        missing = fig.get("missing")
        g = groups.setdefault((row["kind"], gid), MissingGroup(
            row["kind"], gid or "", name or "", (known - missing) if known is not None and missing is not None
            else None, known, fig.get("last_check")))
        g.books.append({
            "title": row["title"],
            "author": row["author_name"],
            "series": row["series_name"],
            "position": row["position"],
            "status": effective_status(row),
            "source": row["source"],
            "asin": row["asin"],
            "last_search": row["last_search"],
            "download_id": row["download_id"],
        })
    out = MissingList()
    for (k, _gid), g in sorted(groups.items(), key=lambda kv: (kv[1].name.casefold(), kv[0][1])):
        g.books.sort(key=_book_order)
        (out.series if k == SERIES_GAP else out.authors).append(g)
    return out


def _book_order(book: dict[str, Any]) -> tuple[Any, ...]:
    pos = position_range(book.get("position"))
    return (pos[0] if pos is not None else float("inf"), (book.get("title") or "").casefold())


# ================================================================================= report
def gaps_report(state: State, *, limit: int = 25) -> dict[str, Any]:
    """The report's gaps section: series completion and the authors with most gaps.

    ``series``: the ``limit`` least complete series with a known bibliography (owned/known,
    percent complete); ``authors``: the ``limit`` authors with most missing books;
    ``missing_series`` / ``missing_authors``: missing_books rows per status."""
    series_rows = state.series_completion()
    completion = []
    for r in series_rows:
        known = r["known_total"] or 0
        missing = r["missing"] or 0
        have = max(known - missing, 0)
        completion.append({
            "name": r["name"], "owned": have, "known": known, "missing": missing,
            "percent": round(100.0 * have / known, 1) if known else None,
            "status": r["status"], "last_check": r["last_check"],
        })
    completion.sort(key=lambda c: (c["percent"] if c["percent"] is not None else 101.0, c["name"].casefold()))
    authors = [
        {"name": r["name"], "owned": r["owned"], "known": r["known_total"], "missing": r["missing"],
         "last_check": r["last_check"]}
        for r in state.authors_by_gaps(limit=limit)
    ]
    known_series = [c for c in completion if c["known"]]
    counts = state.missing_status_counts()
    return {
        "series_tracked": len(known_series),
        "series_complete": sum(1 for c in known_series if c["missing"] == 0),
        "series": completion[:limit],
        "series_more": max(len(completion) - limit, 0),
        "authors": authors,
        "missing_series": counts.get(SERIES_GAP, {}),
        "missing_authors": counts.get(AUTHOR_GAP, {}),
    }

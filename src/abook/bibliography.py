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

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .acquisition import Policy, Verdict, judge, release_rank
from .errors import ConfigError
from .library import book_ref
from .models import BibEntry, DownloadStatus, MissingStatus

if TYPE_CHECKING:
    from .matching import LibraryIndex
    from .models import BookRef, Release
    from .queries import Query

#: a book credited to this many authors or more is an anthology: it does not make its
#: contributors "collected" authors and is never an author's missing book.
ANTHOLOGY_MIN_AUTHORS = 3

SERIES_GAP = "series_gap"

AUTHOR_GAP = "author_gap"

#: statuses of a missing_books row, as ``abook missing`` shows them
STATUSES = (MissingStatus.WANTED, MissingStatus.QUEUED, MissingStatus.DOWNLOADING, MissingStatus.IN_LIBRARY,
            MissingStatus.NOT_FOUND, MissingStatus.UNWANTED)


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
    # with the names, "The Discworld Collection" (a pack) is told from "The Butterfly Collection"
    return "omnibus" in edition_class(entry.title, names=(*entry.authors, *(s.name for s in entry.series if s.name)))


def is_anthology(title: str, authors: Sequence[str]) -> bool:
    """Many authors in one book (or a title that says so)."""
    from .matching import fold

    return len(authors) >= ANTHOLOGY_MIN_AUTHORS or "anthology" in fold(title)


def entry_skip_reason(
    entry: BibEntry, *, include_novellas: bool, kind: str = SERIES_GAP, languages: Sequence[str] = ()
) -> str | None:
    """Why a bibliography entry cannot be a missing book, or None when it can. Pure.

    ``languages`` are the wanted ones (LANGUAGES): a source's translated edition ("Der Name des
    Windes" in an author's Audible catalogue) is not a missing book; no language is no reason."""
    from .matching import edition_class, is_primary_position, language_ok

    if is_omnibus(entry):
        return "omnibus / box set (its parts are what is wanted)"
    if entry.is_audiobook is False:
        return "no audiobook edition"
    if entry.language and languages and not language_ok(entry.language, languages):
        return f"another language ({entry.language}; LANGUAGES wants {', '.join(languages)})"
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


def slot_key(entry: BibEntry, kind: str, *, extra: bool = False) -> str:
    """The identity of a missing book inside its group: the series position for a series (a
    source change keeps the row), the comparable title for an author. A second work at a
    position that already has one (3a / 3b) is ``extra``: its key adds its title."""
    from .matching import normalize_title, parse_position

    if kind == SERIES_GAP and entry.position:
        pos = parse_position(entry.position)
        if pos is not None:
            key = "pos:" + _fmt(pos[0]) + ("" if pos[0] == pos[1] else "-" + _fmt(pos[1]))
            return f"{key}~{normalize_title(entry.title)}" if extra else key
    return "title:" + normalize_title(entry.title)


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"

#: title similarity at which two entries at one series position are one work in two editions
SAME_WORK_TITLE = 0.85


def same_work_entries(a: BibEntry, b: BibEntry) -> bool:
    """Two bibliography entries at one slot are editions of one work (not 3a and 3b)."""
    from .matching import normalize_title, title_similarity

    if a.asin and a.asin == b.asin:
        return True
    if normalize_title(a.title) == normalize_title(b.title):
        return True
    return title_similarity(a.title, b.title) >= SAME_WORK_TITLE


def dedupe_entries(entries: Iterable[BibEntry], kind: str) -> list[BibEntry]:
    """One entry per work and slot (position, or title for authors): the best edition, source
    order kept. Two different works at one position (a true 3a / 3b, or a source listing another
    book there) are both kept: which one the user owns is for the owned check to say."""
    works: list[list[BibEntry]] = []  # [best, *others] per work, in source order
    by_slot: dict[str, list[int]] = {}
    for entry in entries:
        if not entry.title:
            continue
        key = slot_key(entry, kind)
        indexes = by_slot.setdefault(key, [])
        same = next((i for i in indexes if same_work_entries(works[i][0], entry)), None)
        if same is None:
            indexes.append(len(works))
            works.append([entry])
        elif _entry_rank(entry) < _entry_rank(works[same][0]):
            works[same][0] = entry
    return [w[0] for w in works]


def entry_keys(entries: Sequence[BibEntry], kind: str) -> list[str]:
    """The slot keys of deduplicated entries: the first work at a position has the position's
    key, each further work at it an ``extra`` key."""
    seen: set[str] = set()
    keys = []
    for entry in entries:
        key = slot_key(entry, kind)
        if key in seen and key.startswith("pos:"):
            key = slot_key(entry, kind, extra=True)
        seen.add(key)
        keys.append(key)
    return keys


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
    reason: str = ""  # why it is not_found / unwanted / in_library, in words
    row_id: int | None = None
    download_id: int | None = None
    last_search: str | None = None
    reason_code: str = ""  # the reason as a word to count by (REASONS)
    queries: list[str] = field(default_factory=list)  # the tracker queries of the last search

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
    skipped: list[tuple[BibEntry, str]]  # not wanted: omnibus, novella, upcoming, translation...
    keys: dict[BibEntry, str] = field(default_factory=dict)  # each entry's slot key

    def key(self, entry: BibEntry, kind: str) -> str:
        return self.keys.get(entry) or slot_key(entry, kind)


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
    languages: Sequence[str] = (),
) -> Classified:
    """Split a group's bibliography into owned / queued / missing / uncertain / skipped. Pure.

    An owned book at a series position covers that position - unless the source lists several
    works there (3a / 3b): then the one whose title matches an owned book is owned and the
    others are missing; when none matches by title the position cover holds for all of them
    (which one the user has cannot be told, and a wrong grab is worse than a missed one)."""
    covered = owned_positions(group) if group.kind == SERIES_GAP else []
    kept = dedupe_entries(entries, group.kind)
    keys = entry_keys(kept, group.kind)
    result = Classified(0, [], [], [], [], [], dict(zip(kept, keys, strict=True)))
    wanted: list[BibEntry] = []
    for entry in kept:
        why = entry_skip_reason(entry, include_novellas=include_novellas, kind=group.kind, languages=languages)
        if why:
            result.skipped.append((entry, why))
        else:
            wanted.append(entry)
    matches: dict[BibEntry, Any] = {}

    def owned_match(entry: BibEntry) -> Any:
        if entry not in matches:
            matches[entry] = owned.find(Gap(group.kind, group, entry, result.keys[entry]).book())
        return matches[entry]

    def is_same(match: Any) -> bool:
        return match is not None and match.verdict == "same"

    at_position: dict[tuple[float, float], list[BibEntry]] = {}
    if group.kind == SERIES_GAP:
        for entry in wanted:
            pos = position_range(entry.position)
            if pos is not None:
                at_position.setdefault(pos, []).append(entry)
    for entry in wanted:
        gap = Gap(group.kind, group, entry, result.keys[entry])
        pos = position_range(entry.position) if group.kind == SERIES_GAP else None
        cover = None
        if pos is not None:
            cover = next((r for r in covered if r[0] <= pos[0] and pos[1] <= r[1]), None)
        if cover is not None:
            rivals = at_position.get(pos, []) if pos is not None else []
            if len(rivals) <= 1 or not any(is_same(owned_match(e)) for e in rivals):
                label = _fmt(cover[0]) if cover[0] == cover[1] else f"{_fmt(cover[0])}-{_fmt(cover[1])}"
                result.owned.append((entry, f"owned #{label} of {group.name}"))
                continue
        match = owned_match(entry)
        if is_same(match):
            result.owned.append((entry, f"owned: {match.owned.title!r}"))
            continue
        qmatch = queued.find(gap.book())
        if qmatch is not None and qmatch.verdict == "same":
            result.queued.append(entry)
            continue
        if match is not None and match.verdict == "near_miss":
            result.uncertain.append((entry, f"near miss of owned {match.owned.title!r} ({match.reason})"))
            continue
        result.missing.append(entry)
    return Classified(len(wanted), result.owned, result.queued, result.missing, result.uncertain, result.skipped,
                      result.keys)


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
    """Wanted books are searched; a not_found or unwanted one only after ``retry_days`` (a
    new upload may have come)."""
    from .times import parse_iso

    if status == MissingStatus.WANTED:
        return True
    if status not in (MissingStatus.NOT_FOUND, MissingStatus.UNWANTED):
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
    work (owned and queued books and abook's own records as given; none by default). Pure.
    (A part of a split upload is never taken: the judge itself says so.)"""
    from .matching import LibraryIndex

    owned = owned if owned is not None else LibraryIndex()
    queued = queued if queued is not None else LibraryIndex()
    return [(r, judge(r, policy, owned=owned, queued=queued, mine=mine(r), target=book)) for r in releases]


#: what a search for a missing book came to, by reason code: counted at the end of every run
#: and in the report (``missing_books.reason_code``)
REASONS: dict[str, str] = {
    "owned": "in the library already",
    "queued": "already on its way",
    "abridged": "only abridged",
    "language": "only in another language",
    "ebook": "only an ebook / not an audiobook",
    "split": "only parts of a split upload",
    "dramatized": "only dramatized",
    "snatched": "only torrents snatched before",
    "failed_before": "only torrents that failed before",
    "near_owned": "close to an owned book, not grabbed",
    "omnibus": "only inside an omnibus",
    "other": "only unwanted editions",
    "no_results": "no results",
    "no_match": "results, none of them this book",
}

# the words of acquisition.screen's refusals, as reason codes (a unit test runs screen's real
# refusals through this table, so a changed wording is caught)
_REFUSALS = (("split upload", "split"), ("snatched", "snatched"), ("failed before", "failed_before"),
             ("abridged", "abridged"),
             ("language", "language"), ("not an audiobook", "ebook"), ("dramati", "dramatized"),
             ("omnibus", "omnibus"), ("box set", "omnibus"))

_PART_SUFFIX_RE = re.compile(
    r"(?:[\s,:;\-]+|\s*[(\[]\s*)"
    r"(?:(?:part|pt|disc|disk|cd)\.?\s*(?:\d+|[ivx]+|one|two|three|four|five|six)(?:\s*(?:of|/)\s*\w+)?"
    r"|\d+\s*(?:of|/)\s*\d+)"
    r"\s*[)\]]?\s*$",
    re.IGNORECASE,
)


def refusal_code(reason: str) -> str:
    """The reason code of one of :func:`abook.acquisition.judge`'s "unwanted" reasons."""
    low = reason.lower()
    return next((code for words, code in _REFUSALS if words in low), "other")


def split_upload(title: str) -> str | None:
    """The title of the whole book when ``title`` names one part of a split upload
    ("Xyz (Part 1 of 3)", "Xyz - Part 2", "Xyz [2/3]"); None for any other title."""
    stripped = _PART_SUFFIX_RE.sub("", title or "").strip()
    return stripped if stripped and stripped != (title or "").strip() else None


@dataclass(frozen=True)
class Settled:
    """What a search for a missing book came to when no torrent was taken."""

    status: str  # in_library | queued | unwanted | not_found
    code: str  # a key of REASONS
    reason: str


def acceptable(judged: Iterable[tuple[Release, Verdict]]) -> bool:
    """Did a search find what settles the book: a torrent it may take, the book owned, or the
    book already queued? (Then no further query is needed.)"""
    from .models import Judgement

    return any(v.kind in (Judgement.NEW, Judgement.OWNED, Judgement.QUEUED) for _, v in judged)


def settle(book: BookRef, judged: Sequence[tuple[Release, Verdict]]) -> Settled:
    """Why no torrent was taken for ``book``, from every release the searches found. Pure.

    The tracker has the book only in editions abook may not take (abridged, another language,
    an ebook, parts of a split upload, ...) -> ``unwanted`` with the commonest reason; a result
    that is an owned book -> ``in_library``; results that are not this book, or none ->
    ``not_found``."""
    from dataclasses import replace

    from .matching import compare
    from .models import Judgement

    if not judged:
        return Settled(MissingStatus.NOT_FOUND, "no_results", "the tracker answered every query with nothing")
    for release, verdict in judged:
        if verdict.kind == Judgement.OWNED:
            return Settled(MissingStatus.IN_LIBRARY, "owned", f"{release.title!r} on the tracker is {verdict.reason}")
    for _release, verdict in judged:
        if verdict.kind == Judgement.QUEUED:
            return Settled(MissingStatus.QUEUED, "queued", verdict.reason)
    refused: list[tuple[str, Release, str]] = []
    for release, verdict in judged:
        if verdict.kind == Judgement.UNWANTED:
            refused.append((refusal_code(verdict.reason), release, verdict.reason))
        elif verdict.kind == Judgement.NEAR_MISS:
            refused.append(("near_owned", release, verdict.reason))
        elif verdict.kind == Judgement.DIFFERENT:
            whole = split_upload(release.title)
            if whole and compare(book, replace(release.book(), title=whole)).verdict == "same":
                refused.append(("split", release, "one part of a split upload"))
    if refused:
        counts = Counter(code for code, _, _ in refused)
        code = max(counts, key=lambda c: (counts[c], -[x[0] for x in refused].index(c)))
        examples = "; ".join(f"{r.title!r}: {why}" for _, r, why in refused[:3])
        return Settled(MissingStatus.UNWANTED, code, f"{REASONS[code]} ({examples})")
    examples = "; ".join(f"{r.title!r}: {v.reason}" for r, v in judged[:3])
    return Settled(MissingStatus.NOT_FOUND, "no_match", f"{len(judged)} results, none of them this book ({examples})")


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


def row_key(row: dict[str, Any], kind: str, known: Iterable[str] = ()) -> str:
    """The slot key of a stored row; with the ``known`` keys of the current entries, a row of a
    second work at a position finds its own entry (by title) whatever order the source lists
    the works in."""
    from .matching import normalize_title, parse_position

    if kind == SERIES_GAP and row.get("position"):
        pos = parse_position(row["position"])
        if pos is not None:
            key = "pos:" + _fmt(pos[0]) + ("" if pos[0] == pos[1] else "-" + _fmt(pos[1]))
            extra = f"{key}~{normalize_title(row.get('title') or '')}"
            return extra if extra in set(known) else key
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
               row_id=row["id"], download_id=row.get("download_id"), last_search=row.get("last_search"),
               reason=row.get("reason") or "", reason_code=row.get("reason_code") or "",
               queries=stored_queries(row.get("queries")))


def stored_queries(value: Any) -> list[str]:
    """The queries column (JSON list of the texts sent) as a list; [] for none or damage."""
    import json

    if not value:
        return []
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    return [str(q) for q in data] if isinstance(data, list) else []


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
        "reason_code": gap.reason_code or None,
        "reason": gap.reason or None,
        "queries": json.dumps(gap.queries, ensure_ascii=False) if gap.queries else None,
    }


def gap_queries(gap: Gap) -> list[Query]:
    """The tracker queries for one missing book (:func:`abook.queries.plan`)."""
    from .queries import plan

    series = gap.entry.series[0].name if gap.entry.series and gap.entry.series[0].name else ""
    if gap.kind == SERIES_GAP:
        series = series or gap.group.name
    return plan(gap.title, (gap.author,) if gap.author else (), series=series)

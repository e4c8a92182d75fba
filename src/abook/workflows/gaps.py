"""``abook fill-series`` and ``abook fill-authors``: complete what the user collects.

A run has two phases.

**Find.** Every owned series (a series with at least one book in the library) or every collected
author (at least ``AUTHOR_MIN_OWNED`` owned books, multi-author anthologies not counted) gets its
bibliography from the first ``BIBLIOGRAPHY_SOURCES`` source that knows it. Answers are cached in
the state file for :data:`BIBLIOGRAPHY_CACHE_DAYS` days. Each entry is then classified, purely, by
:mod:`abook.bibliography`. What is missing is kept in ``missing_books`` (one row per series
position, or per title for an author), together with the completion figures in
``series``/``authors``.

**Fetch.** Wanted rows are taken in order - authors the user owns most books of first, then each
series in reading order - and for each the tracker is searched for title + author. Every result
is judged by :func:`abook.workflows.grab.judge` against the wanted book (the one rule top10 and
``search`` use too: the same work, not owned, not queued, not a near miss, passes the screen), and
the best acceptable one wins (:func:`abook.bibliography.choose_release`: has seeders,
freeleech/VIP, m4b over mp3, more seeders). At most ``GAP_MAX_DOWNLOADS_PER_RUN`` (``--max``) are
queued per run; the rest stay ``wanted`` for the next run. A book with no acceptable torrent
becomes ``not_found`` with the time and is searched again only after ``GAP_RETRY_DAYS``.

The ratio hold flag stops the fetch phase entirely (the find phase still records the gaps); the
command then exits 4. ``--dry-run`` reads the cache but writes nothing anywhere: no cache, no rows,
no downloads.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..acquisition import Policy
from ..bibliography import (
    SERIES_GAP,
    Gap,
    Group,
    author_counts,
    author_groups,
    best_of,
    download_state,
    due_for_search,
    effective_status,
    find_gaps,
    gap_from_row,
    gap_order,
    judge_all,
    missing_row,
    order_gaps,
    row_key,
    search_terms,
    select_groups,
    series_groups,
    slot_key,
)
from ..errors import AbookError, ConfigError, HeldError, PartialFailure
from ..library import book_ref
from ..models import TAKEN, BibEntry, Decision, Judgement, MissingStatus
from ..progress import NullProgress, Progress
from ..times import iso, parse_iso
from .grab import Grabber, Shelf

if TYPE_CHECKING:
    from ..models import Release
    from ..search import Acquisition
    from ..sources.base import Source
    from ..state import State

log = logging.getLogger("abook")

#: a cached bibliography is reused for this many days (a re-run in the same week asks no
#: source again; the next monthly run refetches, so new releases appear).
BIBLIOGRAPHY_CACHE_DAYS = 7

#: tracker searches per run at most (each costs MAM_RATE_LIMIT_* seconds); the rest wait.
MAX_SEARCHES_PER_RUN = 100


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
        open_ = [g for g in self.missing if g.status != MissingStatus.IN_LIBRARY]
        return "complete" if not open_ else "incomplete"


@dataclass
class FetchDecision:
    group: str
    title: str
    position: str | None
    decision: Decision  # queued | pending | held | would_queue | already | not_found | failed
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
            "missing": sum(1 for g in self.groups for m in g.missing if m.status != MissingStatus.IN_LIBRARY),
            "queued": sum(d[x] for x in TAKEN),
            "held": d[Decision.HELD],
            "not_found": d[Decision.NOT_FOUND],
            "failed": d[Decision.FAILED],
            "left": self.left_wanted,
        }

    def error(self) -> AbookError | None:
        """What the command's exit code must say (None: done)."""
        if self.held:
            return HeldError(self.held)
        failed = self.counts()["failed"]
        return PartialFailure(f"{failed} torrents could not be fetched (see above)") if failed else None


# -------------------------------------------------------------- the bibliography cache
def entry_to_json(entry: BibEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["series"] = [[s["name"], s["position"]] for s in data["series"]]
    return data


def entry_from_json(data: dict[str, Any]) -> BibEntry:
    from ..models import SeriesRef

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


def run(
    state: State,
    sources: list[Source],
    acq: Acquisition | None,
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
    progress: Progress | None = None,
) -> GapsResult:
    """Find the gaps of every owned series (``kind=series_gap``) or collected author
    (``author_gap``), record them, and queue up to ``limit`` of them through ``acq`` (None: find
    the gaps only)."""
    progress = progress or NullProgress()
    if not sources:
        raise ConfigError(
            "BIBLIOGRAPHY_SOURCES gives no usable source (hardcover needs HARDCOVER_TOKEN, goodreads "
            "GOODREADS_ENABLED=true); add audible"
        )
    rows = state.books()
    groups = series_groups(rows) if kind == SERIES_GAP else author_groups(rows, author_min_owned)
    groups = select_groups(groups, series=series, author=author)
    shelf = Shelf.load(state, acq.policy if acq is not None else Policy())
    counts = author_counts(book_ref(r) for r in rows)
    bib = Bibliographies(state, sources, now, dry_run=dry_run, progress=progress)
    result = GapsResult(kind=kind, dry_run=dry_run, limit=limit)

    progress.start(f"{result.command}: bibliographies", len(groups))
    for group in groups:
        result.groups.append(_refresh_group(state, bib, group, shelf, include_novellas, now, dry_run))
        progress.advance()
    progress.done()
    result.skipped_sources = dict(bib.dropped)

    hold = state.hold()
    if hold:
        result.held = f"ratio hold is on ({hold}); nothing queued until `abook ratio-check` clears it"
    pool = [g for gr in result.groups for g in gr.missing]
    due = [g for g in pool if due_for_search(g.status, g.last_search, now, retry_days)]
    result.deferred = sum(1 for g in pool if g.status == MissingStatus.NOT_FOUND and g not in due)
    if result.held or acq is None or limit <= 0:
        result.left_wanted = len(due)
        return result
    _fetch(state, acq, order_gaps(due, counts), shelf, result, now=now, dry_run=dry_run, task_id=task_id,
           progress=progress)
    return result


def _refresh_group(
    state: State,
    bib: Bibliographies,
    group: Group,
    shelf: Shelf,
    include_novellas: bool,
    now: datetime,
    dry_run: bool,
) -> GroupResult:
    """Fetch one bibliography, classify it, bring the group's missing_books rows up to date."""
    rows = _rows_with_downloads(state, group)
    by_key = {row_key(r, group.kind): r for r in rows}
    answer = bib.lookup(group.kind, group.name, group.author if group.kind == SERIES_GAP else "")
    gres = GroupResult(group.kind, group.id, group.name, group.author, "", None, 0)
    if answer is None or not answer[0]:
        # No source knows it (or none answered): keep what earlier runs found, untouched.
        gres.source = answer[1] if answer else ""
        for row in rows:
            gres.missing.append(gap_from_row(row, group))
        if not dry_run and answer is not None and not rows:
            if group.kind == SERIES_GAP:
                state.set_series_gaps(group.id, group.name, known_total=None, missing=None, status="unknown",
                                      library_id=group.library_id, when=iso(now))
            else:
                state.set_author_gaps(group.id, group.name, owned=len(group.owned), known_total=None,
                                      missing=None, library_id=group.library_id, when=iso(now))
        return gres
    entries, source = answer
    found = find_gaps(group, entries, shelf.owned, shelf.queued, include_novellas=include_novellas)
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
            if status == MissingStatus.WANTED and (current in (MissingStatus.NOT_FOUND, MissingStatus.QUEUED, MissingStatus.DOWNLOADING)
                                                 or (current == MissingStatus.IN_LIBRARY and via_download)):
                gap.status = current  # keep the retry clock / the live download
            elif status == MissingStatus.QUEUED and current in (MissingStatus.DOWNLOADING, MissingStatus.IN_LIBRARY) and via_download:
                gap.status = current
            if current == MissingStatus.WANTED and row.get("status") in (MissingStatus.QUEUED, MissingStatus.DOWNLOADING):
                gap.download_id = None  # the download failed: search again
        gres.missing.append(gap)
        writes.append(missing_row(gap, source))

    for entry in found.missing:
        keep(entry, MissingStatus.WANTED)
    for entry in found.queued:
        keep(entry, MissingStatus.QUEUED)
    for entry, _why in found.owned:
        key = slot_key(entry, group.kind)
        if key in by_key:
            keep(entry, MissingStatus.IN_LIBRARY)
    stale = [r["id"] for k, r in by_key.items() if k not in seen and r["status"] in (MissingStatus.WANTED, MissingStatus.NOT_FOUND)]
    # rows for entries no longer listed but once queued stay as history
    for k, r in by_key.items():
        if k not in seen and r["status"] not in (MissingStatus.WANTED, MissingStatus.NOT_FOUND):
            gres.missing.append(gap_from_row(r, group))
    gres.missing.sort(key=lambda g: gap_order(g))
    if not dry_run:
        with state.tx():
            state.save_missing(writes, stale)
            open_count = sum(1 for g in gres.missing if g.status != MissingStatus.IN_LIBRARY)
            if group.kind == SERIES_GAP:
                state.set_series_gaps(group.id, group.name, known_total=found.wanted, missing=open_count,
                                      status="complete" if not open_count else "incomplete",
                                      library_id=group.library_id, when=iso(now))
            else:
                state.set_author_gaps(group.id, group.name, owned=len(group.owned), known_total=found.wanted,
                                      missing=open_count, library_id=group.library_id, when=iso(now))
        # fresh rows get their ids for the fetch phase
        ids = {row_key(r, group.kind): r["id"] for r in state.missing_for(group.kind, group.id)}
        for gap in gres.missing:
            gap.row_id = gap.row_id or ids.get(gap.key)
    return gres

def _rows_with_downloads(state: State, group: Group) -> list[dict[str, Any]]:
    rows = state.missing_for(group.kind, group.id)
    if not rows:
        return rows
    ids = [r["download_id"] for r in rows if r.get("download_id")]
    status = {d["id"]: d["status"] for d in state.downloads() if d["id"] in set(ids)} if ids else {}
    for r in rows:
        r["download_status"] = status.get(r.get("download_id"))
    return rows

def _fetch(
    state: State,
    acq: Acquisition,
    gaps: list[Gap],
    shelf: Shelf,
    result: GapsResult,
    *,
    now: datetime,
    dry_run: bool,
    task_id: int | None,
    progress: Progress,
) -> None:
    grabber = Grabber.for_run(state, acq, dry_run=dry_run, task_id=task_id)
    reason = result.kind
    taken = searches = 0
    progress.start(f"{result.command}: searching", min(len(gaps), result.limit))

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
        qmatch = shelf.queued.find(book)
        if qmatch is not None and qmatch.verdict == "same":
            record(gap, status=MissingStatus.QUEUED)
            result.decisions.append(FetchDecision(**base, decision=Decision.ALREADY,
                                                  reason="queued by abook in this run (same book)"))
            continue
        terms = search_terms(gap)
        searches += 1
        releases = acq.search.find(terms, gap.author)
        if not releases and gap.author:
            searches += 1
            releases = acq.search.find(terms, "")  # the tracker may spell the author differently
        judged = judge_all(book, releases, shelf.policy, owned=shelf.owned, queued=shelf.queued, mine=shelf.mine)
        mine = next(((r, v.mine) for r, v in judged if v.kind == Judgement.QUEUED and v.mine), None)
        if mine is not None:
            torrent, row = mine
            record(gap, status=download_state(row["status"]) or MissingStatus.QUEUED, download_id=row["id"],
                   last_search=iso(now))
            result.decisions.append(FetchDecision(**base, decision=Decision.ALREADY, reason=(
                f"torrent already queued by abook ({row['status']})"), **_torrent(torrent)))
            continue
        best, refused = best_of(judged)
        if best is None:
            why = "; ".join(f"{r.title!r}: {w}" for r, w in refused[:3]) if refused else "no results"
            record(gap, status=MissingStatus.NOT_FOUND, last_search=iso(now))
            result.decisions.append(FetchDecision(**base, decision=Decision.NOT_FOUND,
                                                  reason=f"no acceptable torrent ({why})"))
            progress.event(f"not found: {gap.title} ({why})")
            continue
        outcome = grabber.grab(best, reason=reason, book=book)
        result.decisions.append(FetchDecision(**base, decision=outcome.decision, reason=outcome.reason,
                                              **_torrent(best)))
        progress.event(f"{outcome.decision}: {gap.title} <- {best.title} ({outcome.reason})")
        if outcome.decision in (*TAKEN, Decision.HELD):
            taken += outcome.decision != Decision.HELD
            shelf.remember(book, best.book())
            progress.advance()
            if outcome.download_id:
                record(gap, status=MissingStatus.QUEUED, download_id=outcome.download_id, last_search=iso(now))
            if outcome.decision == Decision.HELD:
                result.held = f"the ratio guard refused a grab: {outcome.reason}"
                result.left_wanted = len(gaps) - index - 1
                break
        elif outcome.decision == Decision.SKIPPED:
            # the very torrent is already ours or already in qBittorrent: the book is on its way
            row = state.find_download(info_hash=outcome.info_hash) if outcome.info_hash else None
            record(gap, status=MissingStatus.QUEUED, download_id=row["id"] if row else gap.download_id,
                   last_search=iso(now))
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

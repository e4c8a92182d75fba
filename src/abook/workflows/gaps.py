"""``abook fill-series`` and ``abook fill-authors``: complete what the user collects.

A run has two phases.

**Find.** Every owned series (a series with at least one book in the library) or every collected
author (at least ``AUTHOR_MIN_OWNED`` owned books, multi-author anthologies not counted) gets its
bibliography from the first ``BIBLIOGRAPHY_SOURCES`` source that knows it - under whatever name
the source gives it (:mod:`abook.naming`). Answers are cached in the state file for
:data:`BIBLIOGRAPHY_CACHE_DAYS` days. Each entry is then classified, purely, by
:mod:`abook.bibliography` (translations outside ``LANGUAGES`` are no missing books). What is
missing is kept in ``missing_books`` (one row per work at a series position, or per title for an
author), together with the completion figures in ``series``/``authors``. A series no source could
be asked about because the source failed (5xx, bot challenge, malformed answer) is ``unknown``
with the reason, the failure is recorded and the run ends with exit 1; earlier rows are kept.

**Fetch.** Wanted rows are taken in order - authors the user owns most books of first, then each
series in reading order - and for each the tracker is asked the fixed plan of
:func:`abook.queries.plan` (at most ``MAX_QUERIES_PER_BOOK``, the text as written first, looser
forms after; :func:`abook.workflows.lookup.run_plan`), stopping at the first query whose results
settle it. Every result is judged by :func:`abook.acquisition.judge` against the wanted book (the
one rule top10 and ``search`` use too), and the best acceptable one wins
(:func:`abook.bibliography.best_of`: has seeders, freeleech/VIP, m4b over mp3, more seeders).
Each book searched ends ``queued``, ``in_library`` (a result is an owned book), ``not_found``
(the searches answered, nothing was the book; the queries are kept on the row) or ``unwanted``
(the tracker has it only abridged, in another language, as an ebook, in parts...; with the
reason) - never ``not_found`` because a search failed: then it stays ``wanted``. At most
``GAP_MAX_DOWNLOADS_PER_RUN`` (``--max``) are queued and :data:`MAX_SEARCHES_PER_RUN` queries
made per run; the rest stay ``wanted`` for the next run. A not_found / unwanted book is searched
again only after ``GAP_RETRY_DAYS``.

The ratio hold flag stops the fetch phase entirely (the find phase still records the gaps); the
command then exits 4. ``--dry-run`` reads the cache but writes nothing anywhere: no cache, no rows,
no downloads.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..acquisition import Policy
from ..bibliography import (
    REASONS,
    SERIES_GAP,
    Gap,
    Group,
    acceptable,
    author_counts,
    author_groups,
    best_of,
    download_state,
    due_for_search,
    effective_status,
    find_gaps,
    gap_from_row,
    gap_order,
    gap_queries,
    judge_all,
    missing_row,
    order_gaps,
    row_key,
    select_groups,
    series_groups,
    settle,
)
from ..errors import AbookError, ConfigError, HeldError, PartialFailure, ServiceError
from ..library import book_ref
from ..models import TAKEN, BibEntry, Decision, Judgement, MissingStatus
from ..progress import NullProgress, Progress
from ..times import iso, parse_iso
from .grab import Grabber, Shelf
from .lookup import Budget, run_plan

if TYPE_CHECKING:
    from ..acquisition import Verdict
    from ..models import BookRef, Release
    from ..search import Acquisition
    from ..sources.base import Source
    from ..state import State

log = logging.getLogger("abook")

#: a cached bibliography is reused for this many days (a re-run in the same week asks no
#: source again; the next monthly run refetches, so new releases appear).
BIBLIOGRAPHY_CACHE_DAYS = 7

#: tracker searches per run at most (each costs MAM_RATE_LIMIT_* seconds); the rest wait.
MAX_SEARCHES_PER_RUN = 100

#: tracker searches failing one after another that end the fetch phase (the tracker is down)
SEARCH_FAILURES_IN_A_ROW = 3


@dataclass
class Answer:
    """What the bibliography sources said of one series / author."""

    entries: list[BibEntry] = field(default_factory=list)
    source: str = ""  # the source whose list it is ("" when none)
    failures: dict[str, str] = field(default_factory=dict)  # source -> why it could not be asked
    answered: bool = False  # some source answered, even "not known here"
    asked: list[str] = field(default_factory=list)  # sources that said "not known here"
    cached: bool = False

    @property
    def name(self) -> str:
        """The series as the source names it ("" for an author or when unknown)."""
        from ..naming import matched_name

        return matched_name(self.entries)

    def unknown_reason(self) -> str:
        """Why there is no bibliography, in one line."""
        if self.failures:
            return "; ".join(f"{name}: {why}" for name, why in self.failures.items())
        if self.asked:
            return f"no source lists it (asked {', '.join(self.asked)})"
        if self.answered or self.cached:
            return "no source lists it"
        return "no configured source lists series / catalogues (BIBLIOGRAPHY_SOURCES)"


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
        """(entries, source), ([], "") when the sources asked do not know it, or None when no
        source could answer (nothing cached then). See :meth:`ask` for the whole answer."""
        answer = self.ask(kind, name, author)
        if answer.entries:
            return answer.entries, answer.source
        if (answer.answered or answer.cached) and not answer.failures:
            return [], ""
        return None

    def ask(self, kind: str, name: str, author: str = "") -> Answer:
        """The first source's list of a series (by ``author``) or an author's catalogue.

        A source that fails (an error after HttpService's retries, a bot challenge, a malformed
        answer) is skipped for the rest of the run with one warning, and every lookup it could
        not serve says so in ``failures``: "unknown" is then a fact about the sources, not about
        the series, and it is neither cached nor taken for "no such series"."""
        key = cache_key(kind, name, author)
        hit = self.state.bibliography_get(key)
        if hit is not None and isinstance(hit.get("payload"), dict):
            at = parse_iso(hit["fetched_at"])
            if at is not None and self.now - at < timedelta(days=self.cache_days):
                self.cached += 1
                entries = [entry_from_json(e) for e in hit["payload"].get("entries") or []]
                return Answer(entries, hit["source"] or "", answered=True, cached=True)
        answer = Answer()
        for source in self.sources:
            if source.name in self.dropped:
                answer.failures[source.name] = f"skipped for this run ({self.dropped[source.name]})"
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
                answer.failures[source.name] = why
                self.progress.warn(f"bibliography source {source.name} skipped for this run: {why}")
                continue
            if entries is None:
                continue  # this source cannot list such things
            answer.answered = True
            if entries:
                self.fetched += 1
                self._put(key, source.name, entries, iso(self.now))
                answer.entries, answer.source = list(entries), source.name
                return answer
            answer.asked.append(source.name)
        if answer.answered and not answer.failures:
            self.fetched += 1
            self._put(key, "", [], iso(self.now))
        return answer

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
    source_name: str = ""  # the series as the source names it, when not as the library does
    reason: str = ""  # why it is unknown
    failed: bool = False  # unknown because a source failed (exit 1), not because none lists it

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
    decision: Decision  # queued | pending | held | would_queue | already | in_library | not_found
    #                     | unwanted | failed
    reason: str
    torrent: str = ""
    torrent_id: str = ""
    size: int = 0
    freeleech: bool = False
    filetype: str = ""
    seeders: int = 0
    code: str = ""  # REASONS key for not_found / unwanted / in_library
    queries: list[str] = field(default_factory=list)  # the tracker queries made for this book


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
    deferred: int = 0  # not_found / unwanted, not yet due for another search
    searches: int = 0  # tracker queries made
    search_failures: int = 0  # tracker queries that failed (their books stay wanted)
    tracker_down: str = ""  # the fetch phase stopped: searches kept failing

    @property
    def command(self) -> str:
        return "fill-series" if self.kind == SERIES_GAP else "fill-authors"

    def reasons(self) -> dict[str, int]:
        """This run's outcomes per reason: ``{"not_found:no_results": 2, "unwanted:abridged": 1}``."""
        out: Counter[str] = Counter()
        for d in self.decisions:
            if d.code and d.decision in (Decision.NOT_FOUND, Decision.UNWANTED):
                out[f"{d.decision}:{d.code}"] += 1
        return dict(sorted(out.items()))

    def counts(self) -> dict[str, int]:
        d = Counter(x.decision for x in self.decisions)
        fetch_failed = sum(1 for x in self.decisions if x.decision == Decision.FAILED and x.code != "search_failed")
        return {
            "groups": len(self.groups),
            "unknown": sum(1 for g in self.groups if g.known is None),
            "sources_failed": sum(1 for g in self.groups if g.failed),
            "missing": sum(1 for g in self.groups for m in g.missing if m.status != MissingStatus.IN_LIBRARY),
            "queued": sum(d[x] for x in TAKEN),
            "already": d[Decision.ALREADY],
            "in_library": d[Decision.IN_LIBRARY],
            "held": d[Decision.HELD],
            "not_found": d[Decision.NOT_FOUND],
            "unwanted": d[Decision.UNWANTED],
            "failed": fetch_failed,
            "search_failed": self.search_failures,
            "searches": self.searches,
            "left": self.left_wanted,
            **self.reasons(),
        }

    def error(self) -> AbookError | None:
        """What the command's exit code must say (None: done)."""
        if self.held:
            return HeldError(self.held)
        if self.tracker_down:
            return ServiceError(f"the tracker failed {SEARCH_FAILURES_IN_A_ROW} searches in a row, fetching "
                                f"stopped (the books stay wanted): {self.tracker_down}")
        c = self.counts()
        problems = []
        if c["failed"]:
            problems.append(f"{c['failed']} torrents could not be fetched")
        if c["search_failed"]:
            problems.append(f"{c['search_failed']} tracker searches failed (those books stay wanted)")
        if c["sources_failed"]:
            what = "series" if self.kind == SERIES_GAP else "authors"
            problems.append(f"{c['sources_failed']} {what} could not be checked (a bibliography source failed)")
        return PartialFailure("; ".join(problems) + " (see above)") if problems else None


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
    languages: Sequence[str] | None = None,
    dry_run: bool = False,
    task_id: int | None = None,
    progress: Progress | None = None,
) -> GapsResult:
    """Find the gaps of every owned series (``kind=series_gap``) or collected author
    (``author_gap``), record them, and queue up to ``limit`` of them through ``acq`` (None: find
    the gaps only). ``languages`` (LANGUAGES; default the acquisition policy's) are the ones a
    bibliography entry may be in to be missing."""
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
    if languages is None:
        languages = acq.policy.languages if acq is not None else ()
    counts = author_counts(book_ref(r) for r in rows)
    bib = Bibliographies(state, sources, now, dry_run=dry_run, progress=progress)
    result = GapsResult(kind=kind, dry_run=dry_run, limit=limit)
    find = _Find(state, bib, shelf, include_novellas=include_novellas, languages=tuple(languages), now=now,
                 dry_run=dry_run, command=result.command, task_id=task_id)

    progress.start(f"{result.command}: bibliographies", len(groups))
    for group in groups:
        result.groups.append(find.refresh(group))
        progress.advance()
    progress.done()
    result.skipped_sources = dict(bib.dropped)

    hold = state.hold()
    if hold:
        result.held = f"ratio hold is on ({hold}); nothing queued until `abook ratio-check` clears it"
    pool = [g for gr in result.groups for g in gr.missing]
    due = [g for g in pool if due_for_search(g.status, g.last_search, now, retry_days)]
    waiting = (MissingStatus.NOT_FOUND, MissingStatus.UNWANTED)
    result.deferred = sum(1 for g in pool if g.status in waiting and g not in due)
    if result.held or acq is None or limit <= 0:
        result.left_wanted = len(due)
        return result
    _fetch(state, acq, order_gaps(due, counts), shelf, result, now=now, dry_run=dry_run, task_id=task_id,
           progress=progress)
    return result


@dataclass
class _Find:
    """The find phase: one bibliography per group, classified, its missing_books rows brought
    up to date."""

    state: State
    bib: Bibliographies
    shelf: Shelf
    include_novellas: bool
    languages: tuple[str, ...]
    now: datetime
    dry_run: bool
    command: str
    task_id: int | None

    def refresh(self, group: Group) -> GroupResult:
        state = self.state
        rows = _rows_with_downloads(state, group)
        answer = self.bib.ask(group.kind, group.name, group.author if group.kind == SERIES_GAP else "")
        if not answer.entries:
            return self._unknown(group, rows, answer)
        entries, source = answer.entries, answer.source
        found = find_gaps(group, entries, self.shelf.owned, self.shelf.queued,
                          include_novellas=self.include_novellas, languages=self.languages)
        known_keys = set(found.keys.values())
        by_key = {row_key(r, group.kind, known_keys): r for r in rows}
        gres = GroupResult(group.kind, group.id, group.name, group.author, source, found.wanted, len(found.owned))
        name = answer.name
        if name and _differs(name, group.name):
            gres.source_name = name
        gres.skipped = [(e.title, why) for e, why in found.skipped]
        gres.uncertain = [(e.title, why) for e, why in found.uncertain]
        writes: list[dict[str, Any]] = []
        seen: set[str] = set()

        def keep(entry: BibEntry, status: str) -> None:
            key = found.key(entry, group.kind)
            seen.add(key)
            row = by_key.get(key)
            gap = Gap(group.kind, group, entry, key, status=status)
            if row is not None:
                gap.row_id, gap.download_id, gap.last_search = row["id"], row.get("download_id"), row.get("last_search")
                current = effective_status(row)
                via_download = download_state(row.get("download_status")) is not None
                seen_owned = current == MissingStatus.IN_LIBRARY and (via_download or row.get("reason_code") == "owned")
                if status == MissingStatus.WANTED and (
                    current in (MissingStatus.NOT_FOUND, MissingStatus.UNWANTED, MissingStatus.QUEUED,
                                MissingStatus.DOWNLOADING) or seen_owned
                ):
                    gap.status = current  # keep the retry clock / the live download / what it came to
                elif status == MissingStatus.QUEUED and current in (MissingStatus.DOWNLOADING,
                                                                   MissingStatus.IN_LIBRARY) and via_download:
                    gap.status = current
                if current == MissingStatus.WANTED and row.get("status") in (MissingStatus.QUEUED,
                                                                            MissingStatus.DOWNLOADING):
                    gap.download_id = None  # the download failed: search again
                if gap.status == current and current != MissingStatus.WANTED:
                    gap.reason, gap.reason_code = row.get("reason") or "", row.get("reason_code") or ""
                    gap.queries = gap_from_row(row, group).queries
            gres.missing.append(gap)
            writes.append(missing_row(gap, source))

        for entry in found.missing:
            keep(entry, MissingStatus.WANTED)
        for entry in found.queued:
            keep(entry, MissingStatus.QUEUED)
        for entry, _why in found.owned:
            if found.key(entry, group.kind) in by_key:
                keep(entry, MissingStatus.IN_LIBRARY)
        waiting = (MissingStatus.WANTED, MissingStatus.NOT_FOUND, MissingStatus.UNWANTED)
        stale = [r["id"] for k, r in by_key.items() if k not in seen and r["status"] in waiting]
        # rows for entries no longer listed but once queued stay as history
        for k, r in by_key.items():
            if k not in seen and r["status"] not in waiting:
                gres.missing.append(gap_from_row(r, group))
        gres.missing.sort(key=lambda g: gap_order(g))
        if not self.dry_run:
            when = iso(self.now)
            with state.tx():
                state.save_missing(writes, stale)
                open_count = sum(1 for g in gres.missing if g.status != MissingStatus.IN_LIBRARY)
                if group.kind == SERIES_GAP:
                    state.set_series_gaps(group.id, group.name, known_total=found.wanted, missing=open_count,
                                          status="complete" if not open_count else "incomplete",
                                          library_id=group.library_id, when=when, source=source,
                                          source_name=gres.source_name or None)
                else:
                    state.set_author_gaps(group.id, group.name, owned=len(group.owned), known_total=found.wanted,
                                          missing=open_count, library_id=group.library_id, when=when,
                                          status="complete" if not open_count else "incomplete", source=source)
            # fresh rows get their ids for the fetch phase
            ids = {row_key(r, group.kind, known_keys): r["id"] for r in state.missing_for(group.kind, group.id)}
            for gap in gres.missing:
                gap.row_id = gap.row_id or ids.get(gap.key)
        return gres

    def _unknown(self, group: Group, rows: list[dict[str, Any]], answer: Answer) -> GroupResult:
        """No bibliography this run: keep what earlier runs found, say why, record a failure."""
        gres = GroupResult(group.kind, group.id, group.name, group.author, "", None, 0)
        gres.reason, gres.failed = answer.unknown_reason(), bool(answer.failures)
        for row in rows:
            gres.missing.append(gap_from_row(row, group))
        if self.dry_run:
            return gres
        with self.state.tx():
            self.state.mark_group_unknown(group.kind, group.id, group.name, reason=gres.reason,
                                          owned=len(group.owned), library_id=group.library_id, when=iso(self.now))
            if gres.failed:
                what = "series" if group.kind == SERIES_GAP else "author"
                self.state.record_failure(self.command, "bibliography", "source_failed",
                                          f"no bibliography for {what} {group.name!r}: {gres.reason}",
                                          ref=f"{group.kind}:{group.id}", title=group.name, task_id=self.task_id)
        return gres


def _differs(a: str, b: str) -> bool:
    from ..matching import fold

    return fold(a) != fold(b)


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
    """Search the tracker for each missing book (its fixed query plan), take the best torrent."""
    grabber = Grabber.for_run(state, acq, dry_run=dry_run, task_id=task_id)
    reason = result.kind
    taken = 0
    failing = 0  # searches failed one after another
    budget = Budget(MAX_SEARCHES_PER_RUN)
    progress.start(f"{result.command}: searching", min(len(gaps), result.limit))

    def record(gap: Gap, **fields: Any) -> None:
        for k, v in fields.items():
            setattr(gap, k, v)
        if not dry_run and gap.row_id:
            if "queries" in fields:
                fields["queries"] = json.dumps(fields["queries"], ensure_ascii=False) if fields["queries"] else None
            for name in ("reason", "reason_code"):
                if name in fields:
                    fields[name] = fields[name] or None
            state.update_missing(gap.row_id, **fields)

    for index, gap in enumerate(gaps):
        if taken >= result.limit or budget.left <= 0:
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
        judged: list[tuple[Release, Verdict]] = []

        def accept(found: list[Release], book: BookRef = book, judged: list = judged) -> bool:
            fresh = judge_all(book, found, shelf.policy, owned=shelf.owned, queued=shelf.queued, mine=shelf.mine)
            judged.extend(fresh)
            return acceptable(fresh)

        ran = run_plan(acq.search, gap_queries(gap), accept=accept, budget=budget)
        result.searches = budget.used
        if ran.error is not None:
            failing += 1
            result.search_failures += 1
            why = f"tracker search {ran.failed_query.sent if ran.failed_query else ''!r} failed: {ran.error}"
            if not dry_run:
                state.record_failure(result.command, "search", "tracker_error", why, ref=gap.key, title=gap.title,
                                     task_id=task_id)
            result.decisions.append(FetchDecision(**base, decision=Decision.FAILED, code="search_failed",
                                                  reason=f"{why}; stays wanted", queries=ran.sent))
            progress.warn(f"{gap.title}: {why}")
            if failing >= SEARCH_FAILURES_IN_A_ROW:
                result.tracker_down = str(ran.error)
                result.left_wanted = len(gaps) - index
                break
            continue
        failing = 0
        if ran.cut_short and not ran.accepted:
            result.left_wanted = len(gaps) - index  # the run's searches are spent: next run
            break
        mine = next(((r, v.mine) for r, v in judged if v.kind == Judgement.QUEUED and v.mine), None)
        if mine is not None:
            torrent, row = mine
            record(gap, status=download_state(row["status"]) or MissingStatus.QUEUED, download_id=row["id"],
                   last_search=iso(now), queries=ran.sent, reason_code="", reason="")
            result.decisions.append(FetchDecision(**base, decision=Decision.ALREADY, reason=(
                f"torrent already queued by abook ({row['status']})"), queries=ran.sent, **_torrent(torrent)))
            continue
        best, _refused = best_of(judged)
        settled = settle(book, judged) if best is None or any(v.kind == Judgement.OWNED for _, v in judged) else None
        if settled is not None:
            decision = {MissingStatus.IN_LIBRARY: Decision.IN_LIBRARY, MissingStatus.QUEUED: Decision.ALREADY,
                        MissingStatus.UNWANTED: Decision.UNWANTED}.get(settled.status, Decision.NOT_FOUND)
            record(gap, status=settled.status, reason_code=settled.code, reason=settled.reason, queries=ran.sent,
                   last_search=iso(now))
            result.decisions.append(FetchDecision(**base, decision=decision, reason=settled.reason,
                                                  code=settled.code, queries=ran.sent))
            progress.event(f"{decision}: {gap.title} ({settled.reason})")
            continue
        assert best is not None
        outcome = grabber.grab(best, reason=reason, book=book)
        result.decisions.append(FetchDecision(**base, decision=outcome.decision, reason=outcome.reason,
                                              queries=ran.sent, **_torrent(best)))
        progress.event(f"{outcome.decision}: {gap.title} <- {best.title} ({outcome.reason})")
        if outcome.decision in (*TAKEN, Decision.HELD):
            taken += outcome.decision != Decision.HELD
            shelf.remember(book, best.book())
            progress.advance()
            if outcome.download_id:
                record(gap, status=MissingStatus.QUEUED, download_id=outcome.download_id, last_search=iso(now),
                       queries=ran.sent, reason_code="", reason="")
            if outcome.decision == Decision.HELD:
                result.held = f"the ratio guard refused a grab: {outcome.reason}"
                result.left_wanted = len(gaps) - index - 1
                break
        elif outcome.decision == Decision.SKIPPED:
            # the very torrent is already ours or already in qBittorrent: the book is on its way
            row = state.find_download(info_hash=outcome.info_hash) if outcome.info_hash else None
            record(gap, status=MissingStatus.QUEUED, download_id=row["id"] if row else gap.download_id,
                   last_search=iso(now), queries=ran.sent, reason_code="", reason="")
        # "failed": the tracker sent no torrent; the book stays wanted for the next run
    result.searches = budget.used
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


def reason_words(code: str) -> str:
    """The words of a reason code (:data:`abook.bibliography.REASONS`)."""
    return REASONS.get(code, code.replace("_", " "))

"""``abook fix-metadata``: fill empty fields only, from verified matches, remembering every source.

Per book: find the empty fields in the mirror (no request at all when none is empty or the book
was checked within ``METADATA_RECHECK_DAYS``), ask the sources in order (with the book's tidy
title), keep only candidates that matching calls the *same work* and whose tidy title is the
book's (study guides and summaries are rejected even when a source ranks them first), merge them
so that a later source fills only what earlier ones left empty, re-read the live ABS item, and
PATCH only fields that are still empty there. Every written field is a ``metadata_corrections``
row and an entry in the book's field -> source map.

A source's values pass the same cleaner as the import (:func:`abook.tidy.tidy`): a subtitle that
only names the series ("The Expanse, Book 2", Audible's habit) or only says "A Novel" is no
subtitle — it fills the series and sequence when the book has none, and is dropped otherwise.

``--tidy-titles`` (opt-in, never by default) also tidies the titles and subtitles the library
already has: series labels, edition tags and marketing taken out, a label's series filling an
empty series; each change is a correction with the source ``tidy``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import AbookError, PartialFailure
from ..library import book_ref
from ..models import BookRef, SeriesRef
from ..progress import NullProgress, Progress
from ..times import iso, parse_iso

if TYPE_CHECKING:
    from ..clients.audiobookshelf import Audiobookshelf
    from ..sources.base import Candidate, Source
    from ..state import State

log = logging.getLogger("abook")

# ABS metadata key -> books column in the mirror.
FIELDS: dict[str, str] = {
    "subtitle": "subtitle",
    "description": "description",
    "publisher": "publisher",
    "publishedYear": "year",
    "isbn": "isbn",
    "asin": "asin",
    "genres": "genres",
    "language": "language",
    "narrators": "narrators",
    "series": "series",
    "authors": "authors",
    "cover": "has_cover",
}


@dataclass(frozen=True)
class Change:
    book_id: str
    title: str
    field: str
    old: Any
    new: Any
    source: str


@dataclass
class BookOutcome:
    book_id: str
    title: str
    status: str  # filled | nothing_found | complete | failed | skipped_recent
    changes: list[Change] = field(default_factory=list)
    reason: str = ""


@dataclass
class MetadataResult:
    books: list[BookOutcome] = field(default_factory=list)
    dry_run: bool = False
    skipped_sources: dict[str, str] = field(default_factory=dict)
    completeness_before: float = 0.0
    completeness_after: float = 0.0
    #: ``--tidy-titles``: the books whose title, subtitle or series was tidied (status "tidied")
    tidied: list[BookOutcome] = field(default_factory=list)

    @property
    def changes(self) -> list[Change]:
        """Every change, the tidied titles first."""
        return [c for b in (*self.tidied, *self.books) for c in b.changes]

    @property
    def filled(self) -> list[Change]:
        """The fields filled from sources (not the tidied titles)."""
        return [c for b in self.books for c in b.changes]

    def error(self) -> PartialFailure | None:
        """What the command's exit code must say (None: done)."""
        failed = sum(b.status == "failed" for b in self.books)
        return PartialFailure(f"{failed} books failed (see abook report)") if failed else None

    def counts(self) -> dict[str, Any]:
        out: dict[str, Any] = {"books": len(self.books), "fields": len(self.filled)}
        for b in self.books:
            out[b.status] = out.get(b.status, 0) + 1
        if self.tidied:
            out["tidied"] = len(self.tidied)
        out["completeness_before"] = self.completeness_before
        out["completeness_after"] = self.completeness_after
        return out


# ----------------------------------------------------------------- pure parts
def is_empty(value: Any) -> bool:
    """The one rule for an empty field: None, blank text, "[]", or an empty list/dict."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or value.strip() == "[]"
    if isinstance(value, list | tuple | dict):
        return len(value) == 0
    return False


def empty_fields(book: Mapping[str, Any]) -> list[str]:
    """ABS metadata keys that are empty in a mirrored book row."""
    out = []
    for key, col in FIELDS.items():
        value = book.get(col)
        if key == "cover":
            if not value:
                out.append(key)
        elif is_empty(value):
            out.append(key)
    return out


def fill_empty(current: Mapping[str, Any], proposed: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH ``metadata`` for the proposed fields that are empty in ``current`` (never overwrite)."""
    return {k: v for k, v in proposed.items() if not is_empty(v) and is_empty(current.get(k))}


def candidate_values(c: Candidate) -> dict[str, Any]:
    """A candidate's fields in the shapes ABS's PATCH accepts, after the title cleaner: a subtitle
    that is only a series label is dropped, its series and sequence fill the candidate's."""
    from ..tidy import tidy

    clean = tidy(c.title, subtitle=c.subtitle, series=c.series, authors=c.authors)
    return {
        "subtitle": clean.subtitle or None,
        "description": c.description or None,
        "publisher": c.publisher or None,
        "publishedYear": c.year or None,
        "isbn": c.isbn or None,
        "asin": c.asin or None,
        "genres": list(c.genres) or None,
        "language": c.language or None,
        "narrators": list(c.narrators) or None,
        "series": [{"name": s.name, "sequence": s.position} for s in clean.series] or None,
        "authors": [{"name": a} for a in c.authors] or None,
        "cover": c.cover_url or None,
    }


def merge(wanted: Iterable[str], verified: Sequence[Candidate]) -> dict[str, tuple[Any, str]]:
    """field -> (value, source): earlier candidates win, later ones fill only what is left."""
    out: dict[str, tuple[Any, str]] = {}
    wanted = list(wanted)
    for cand in verified:
        values = candidate_values(cand)
        for key in wanted:
            if key not in out and not is_empty(values.get(key)):
                out[key] = (values[key], cand.source)
    return out


def verify(book: BookRef, candidates: Iterable[Candidate]) -> Candidate | None:
    """The first candidate that is the same work (and not a summary, study guide or omnibus) and
    whose tidy title is the book's: the title is never overwritten, so a candidate that names the
    book differently would fill its fields with another book's."""
    from ..matching import compare, edition_class
    from ..tidy import same_title, tidy

    for cand in candidates:
        if edition_class(cand.title, "", cand.subtitle) & {"summary", "omnibus"}:
            continue
        # either side's series may explain the other's title ("Mistborn: The Hero of Ages")
        both = (*book.series, *cand.series)
        mine = tidy(book.title, series=both, authors=book.authors).title
        theirs = tidy(cand.title, subtitle=cand.subtitle, series=both, authors=cand.authors).title
        if not same_title(mine, theirs):
            continue
        if compare(book, cand.book()).verdict == "same":
            return cand
    return None


def keep_subtitle(title: str | None, subtitle: Any) -> bool:
    """A subtitle the book's title already ends with ("Educated: A Memoir") is not written."""
    from ..matching import fold

    if not isinstance(subtitle, str) or not subtitle.strip():
        return False
    t, sub = fold(title or ""), fold(subtitle)
    return not (t.endswith(sub) and t != sub)


# ------------------------------------------------------------------ tidy titles
def row_series(row: Mapping[str, Any]) -> tuple[SeriesRef, ...]:
    return tuple(SeriesRef(s["name"], s.get("sequence")) for s in row.get("series") or []
                 if isinstance(s, dict) and s.get("name"))


def tidy_plan(title: str | None, subtitle: str | None, series: Sequence[Mapping[str, Any]],
              authors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What ``--tidy-titles`` writes for a book with these values (the PATCH ``metadata``): the
    tidy title, the subtitle without a series label or marketing (None clears it), and the
    series a label names (or the sequence it gives) when the book's series says nothing."""
    from ..tidy import tidy

    if not title:
        return {}
    known = tuple(SeriesRef(s["name"], s.get("sequence")) for s in series or [] if s.get("name"))
    names = tuple(a["name"] for a in authors or [] if a.get("name"))
    clean = tidy(title, subtitle=subtitle or "", series=known, authors=names)
    plan: dict[str, Any] = {}
    if clean.title != title:
        plan["title"] = clean.title
    if subtitle and clean.subtitle != subtitle:
        plan["subtitle"] = clean.subtitle or None
    # a label's series only ever fills what is empty (no series, or a series without a sequence)
    if clean.series != known:
        plan["series"] = [{"name": x.name, "sequence": x.position} for x in clean.series]
    return plan


def titles_to_tidy(rows: Iterable[Mapping[str, Any]], examples: int = 20) -> dict[str, Any]:
    """How many books ``--tidy-titles`` would change, by what their title carries, and a few of
    them: the report's "titles to tidy"."""
    from ..tidy import tidy

    counts = {"series": 0, "tag": 0, "marketing": 0, "author": 0, "subtitle": 0}
    total = 0
    shown: list[dict[str, Any]] = []
    for row in rows:
        title = row.get("title")
        if not title:
            continue
        plan = tidy_plan(title, row.get("subtitle"), row.get("series") or [], row.get("authors") or [])
        if not plan:
            continue
        total += 1
        known = row_series(row)
        names = tuple(a["name"] for a in row.get("authors") or [] if a.get("name"))
        for kind in tidy(title, subtitle=row.get("subtitle") or "", series=known, authors=names).kinds:
            counts[kind] = counts.get(kind, 0) + 1
        if len(shown) < examples:
            shown.append({"id": row.get("id"), "title": title, "subtitle": row.get("subtitle"),
                          "tidy": plan})
    return {"to_tidy": total, "by_kind": counts, "examples": shown}


@dataclass(frozen=True)
class Selection:
    """Which books a run looks at: ``mode`` "new" (added within ``since``), "all" or "default"
    (never-checked books first, then the oldest checks), or one ``item``."""

    mode: str = "default"
    since: timedelta = timedelta(days=7)
    item: str | None = None
    force: bool = False
    limit: int = 50
    recheck_days: int = 30
    tidy_limit: int = 0  # --max as given (0: every book in scope): tidying asks no source

    @classmethod
    def from_options(
        cls, *, new: bool, all_books: bool, since: str | None, item: str | None, force: bool,
        limit: int | None, daily_max: int, recheck_days: int,
    ) -> Selection:
        """The command's options as a selection: ``--all`` without ``--max`` has no limit, and
        ``--item`` is always asked again (it is one book the user named)."""
        from ..times import parse_since

        mode = "all" if all_books else "new" if new else "default"
        return cls(mode=mode, since=timedelta(days=parse_since(since)), item=item, force=force or bool(item),
                   limit=0 if (all_books and limit is None) else (limit if limit is not None else daily_max),
                   recheck_days=recheck_days, tidy_limit=limit or 0)

    def pick(self, books: Sequence[Mapping[str, Any]], now: datetime) -> list[Mapping[str, Any]]:
        return select_books(books, now=now, mode=self.mode, since=self.since, item=self.item,
                            recheck_days=self.recheck_days, force=self.force, limit=self.limit)

    def pick_untidy(self, books: Sequence[Mapping[str, Any]], now: datetime) -> list[Mapping[str, Any]]:
        """``--tidy-titles``: the books of this selection's scope (``--item``, ``--new`` or all)
        whose title or subtitle the cleaner would change, whenever they were last checked."""
        if self.item:
            scope = [b for b in books if b["id"] == self.item]
        elif self.mode == "new":
            cutoff = int((now - self.since).timestamp() * 1000)
            scope = [b for b in books if (b.get("added_at") or 0) >= cutoff]
        else:
            scope = list(books)
        out = [b for b in scope if tidy_plan(b.get("title"), b.get("subtitle"), b.get("series") or [],
                                             b.get("authors") or [])]
        return out[: self.tidy_limit] if self.tidy_limit else out


def select_books(
    books: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    mode: str,
    since: timedelta,
    item: str | None,
    recheck_days: int,
    force: bool,
    limit: int,
) -> list[Mapping[str, Any]]:
    """Which books this run looks at, in order (pure)."""
    if item:
        return [b for b in books if b["id"] == item]
    chosen = list(books)
    if mode == "new":
        cutoff = int((now - since).timestamp() * 1000)
        chosen = [b for b in chosen if (b.get("added_at") or 0) >= cutoff]
    if not force:
        fresh = now - timedelta(days=recheck_days)
        chosen = [
            b for b in chosen
            if (checked := parse_iso(b.get("metadata_checked_at"))) is None or checked < fresh
        ]
    chosen = [b for b in chosen if empty_fields(b)] if not force else chosen
    chosen.sort(key=lambda b: (b.get("metadata_checked_at") is not None, b.get("metadata_checked_at") or ""))
    return chosen[:limit] if limit else chosen


# -------------------------------------------------------------------- the run
@dataclass
class FixMetadata:
    state: State
    abs_client: Audiobookshelf | None
    sources: list[Source]
    now: Callable[[], datetime]
    retries: int = 2
    dry_run: bool = False
    task_id: int | None = None
    progress: Progress = field(default_factory=NullProgress)
    sleep: Callable[[float], None] = time.sleep
    backoff: float = 1.0
    result: MetadataResult = field(default_factory=MetadataResult)

    def _ask(self, source: Source, row: Mapping[str, Any]) -> list[Candidate]:
        """One source, ``retries`` tries with backoff; SourceUnavailable drops it for the run."""
        from ..sources.base import SourceUnavailable
        from ..tidy import tidy

        authors = [a["name"] for a in row.get("authors") or [] if a.get("name")]
        # asked with the tidy title: "Project Hail Mary: A Novel [Unabridged]" finds more as
        # "Project Hail Mary", and a source's search is no place for edition tags
        title = tidy(row.get("title") or "", series=row_series(row), authors=authors).title
        last: AbookError | None = None
        for attempt in range(max(1, self.retries)):
            try:
                return source.find(title, authors, isbn=row.get("isbn") or "", asin=row.get("asin") or "")
            except SourceUnavailable as exc:
                self.result.skipped_sources[source.name] = exc.reason
                self.progress.warn(f"{source.name} skipped for this run: {exc.reason}")
                return []
            except AbookError as exc:
                last = exc
                if attempt + 1 < self.retries:
                    self.sleep(self.backoff * (2**attempt))
        assert last is not None
        if not self.dry_run:
            self.state.record_failure("fix-metadata", "metadata", "source_error",
                                      f"{source.name}: {last}", ref=row["id"], title=row.get("title") or "",
                                      task_id=self.task_id)
        self.progress.warn(f"{row.get('title')}: {source.name} failed ({last}); skipped for this book")
        return []

    def fix(self, row: Mapping[str, Any]) -> BookOutcome:
        title = row.get("title") or row["id"]
        wanted = empty_fields(row)
        if not wanted:
            return BookOutcome(row["id"], title, "complete")
        ref = book_ref(row)
        verified: list[Candidate] = []
        for source in self.sources:
            if source.name in self.result.skipped_sources:
                continue
            left = [k for k in wanted if k not in merge(wanted, verified)]
            if not left:
                break
            cand = verify(ref, self._ask(source, row))
            if cand is not None:
                verified.append(cand)
        proposal = merge(wanted, verified)
        if "subtitle" in proposal and not keep_subtitle(row.get("title"), proposal["subtitle"][0]):
            del proposal["subtitle"]
        if not proposal:
            if not self.dry_run:
                self.state.mark_metadata_checked(row["id"], iso(self.now()))
            return BookOutcome(row["id"], title, "nothing_found", reason="no verified match")
        if self.dry_run or self.abs_client is None:
            changes = [Change(row["id"], title, k, row.get(FIELDS[k]), v, s) for k, (v, s) in proposal.items()]
            return BookOutcome(row["id"], title, "filled", changes)
        return self._apply(row, title, proposal)

    def _apply(self, row: Mapping[str, Any], title: str, proposal: dict[str, tuple[Any, str]]) -> BookOutcome:
        assert self.abs_client is not None
        live = self.abs_client.item(row["id"]).metadata_values()
        patch = {k: v for k, (v, _s) in proposal.items() if k != "cover" and is_empty(live.get(k))}
        cover = proposal.get("cover") if is_empty(live.get("cover")) else None
        sources = {k: s for k, (_v, s) in proposal.items()}
        changes = [Change(row["id"], title, k, live.get(k), v, sources[k]) for k, v in patch.items()]
        if patch:
            self.abs_client.patch_media(row["id"], {"metadata": patch})
        if cover is not None:
            try:
                self.abs_client.set_cover_url(row["id"], cover[0])
                changes.append(Change(row["id"], title, "cover", None, cover[0], cover[1]))
            except AbookError as exc:
                self.state.record_failure("fix-metadata", "metadata", "cover", f"cover: {exc}",
                                          ref=row["id"], title=title, task_id=self.task_id)
        applied = {c.field: c.new for c in changes}
        with self.state.tx():
            if applied:
                self.state.record_corrections(row["id"], live, applied, {c.field: c.source for c in changes},
                                              self.task_id)
                self.state.update_book_fields(row["id"], {FIELDS[k]: v for k, v in applied.items()})
            self.state.mark_metadata_checked(row["id"], iso(self.now()))
        return BookOutcome(row["id"], title, "filled" if changes else "nothing_found", changes)

    # ------------------------------------------------------------ --tidy-titles
    def tidy(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Tidy the titles and subtitles of ``rows`` (see :func:`tidy_plan`). The live values are
        re-read first (in large ``batch/get`` chunks, not one item at a time) so that a title
        someone edited since the last scan is judged as it is now."""
        live: dict[str, dict[str, Any]] = {}
        if not self.dry_run and self.abs_client is not None:
            ids = [r["id"] for r in rows]
            for start in range(0, len(ids), 500):
                for item in self.abs_client.batch_get(ids[start:start + 500]):
                    live[item.id] = item.metadata_values()
        for row in rows:
            title = row.get("title") or row["id"]
            if self.dry_run or self.abs_client is None:
                values = {"title": row.get("title"), "subtitle": row.get("subtitle"),
                          "series": [{"name": s.name, "sequence": s.position} for s in row_series(row)]}
                plan = tidy_plan(row.get("title"), row.get("subtitle"), row.get("series") or [],
                                 row.get("authors") or [])
            else:
                values = live.get(row["id"]) or {}
                plan = tidy_plan(values.get("title"), values.get("subtitle"), values.get("series") or [],
                                 values.get("authors") or []) if values else {}
                if not plan:
                    continue
                self.abs_client.patch_media(row["id"], {"metadata": plan})
                with self.state.tx():
                    self.state.record_corrections(row["id"], values, plan, "tidy", self.task_id)
                    self.state.update_book_fields(row["id"], plan)
            changes = [Change(row["id"], title, k, values.get(k), v, "tidy") for k, v in plan.items()]
            self.result.tidied.append(BookOutcome(row["id"], title, "tidied", changes))
            self.progress.event(f"{title}: " + ", ".join(f"{c.field} -> {c.new!r}" for c in changes))

    def run(self, rows: Sequence[Mapping[str, Any]], untidy: Sequence[Mapping[str, Any]] = ()) -> MetadataResult:
        """Tidy ``untidy`` (``--tidy-titles``), then fill the empty fields of ``rows``."""
        self.result.dry_run = self.dry_run
        self.result.completeness_before = self.state.library_summary()["completeness"]
        if untidy:
            self.tidy(untidy)
            if not self.dry_run:  # fill from the tidy titles just written
                fresh = {b["id"]: b for b in self.state.books()}
                rows = [fresh.get(r["id"], r) for r in rows]
        self.progress.start("fix-metadata", len(rows))
        for row in rows:
            try:
                outcome = self.fix(row)
            except AbookError as exc:
                if getattr(exc, "service", "") == "Audiobookshelf":
                    raise
                outcome = BookOutcome(row["id"], row.get("title") or "", "failed", reason=str(exc))
                if not self.dry_run:
                    self.state.record_failure("fix-metadata", "metadata", "error", str(exc), ref=row["id"],
                                              title=row.get("title") or "", task_id=self.task_id)
            self.result.books.append(outcome)
            self.progress.advance()
            if outcome.changes:
                fields = ", ".join(f"{c.field} ({c.source})" for c in outcome.changes)
                self.progress.event(f"{outcome.title}: {fields}")
        self.progress.done()
        self.result.completeness_after = self.state.library_summary()["completeness"]
        return self.result


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def run(
    state: State,
    selection: Selection,
    *,
    sources: Callable[[], list[Source]],
    abs_client: Callable[[], Audiobookshelf],
    now: Callable[[], datetime],
    retries: int = 2,
    backoff: float = 1.0,
    dry_run: bool = False,
    task_id: int | None = None,
    progress: Progress | None = None,
    tidy_titles: bool = False,
) -> MetadataResult:
    """Fill the empty fields of the selected books (``tidy_titles``: tidy their titles first).
    The sources and the ABS client are built only when some book needs them (a run with nothing
    to do asks nothing of anyone)."""
    books = state.books()
    rows = selection.pick(books, now())
    untidy = selection.pick_untidy(books, now()) if tidy_titles else []
    return FixMetadata(
        state, abs_client() if (rows or untidy) and not dry_run else None, sources() if rows else [], now=now,
        retries=retries, dry_run=dry_run, task_id=task_id, progress=progress or NullProgress(), backoff=backoff,
    ).run(rows, untidy)

"""``abook missing``: what each series and author lacks, in reading order, with its status.

Reads the state file only (``fill-series`` / ``fill-authors`` refresh it); :func:`gaps_report` is
the same knowledge summed up for ``abook report``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..bibliography import (
    AUTHOR_GAP,
    SERIES_GAP,
    STATUSES,
    effective_status,
    position_range,
    stored_queries,
)
from ..models import MissingStatus

if TYPE_CHECKING:
    from ..state import State


@dataclass
class MissingGroup:
    kind: str
    id: str
    name: str
    owned: int | None
    known: int | None
    last_check: str | None
    books: list[dict[str, Any]] = field(default_factory=list)
    status: str | None = None  # complete | incomplete | unknown
    reason: str | None = None  # why it is unknown
    source: str | None = None  # the source whose bibliography it is
    source_name: str | None = None  # the series as that source names it

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "owned": self.owned, "known": self.known,
                "missing": sum(1 for b in self.books if b["status"] != MissingStatus.IN_LIBRARY),
                "last_check": self.last_check, "books": self.books, "status": self.status,
                "reason": self.reason, "source": self.source, "source_name": self.source_name}


@dataclass
class MissingList:
    series: list[MissingGroup] = field(default_factory=list)
    authors: list[MissingGroup] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)  # groups without a bibliography

    def as_dict(self) -> dict[str, Any]:
        return {"schema": 1, "series": [g.as_dict() for g in self.series],
                "authors": [g.as_dict() for g in self.authors], "unknown": self.unknown}

    def counts(self) -> dict[str, int]:
        c = Counter(b["status"] for g in (*self.series, *self.authors) for b in g.books)
        return {s: c[s] for s in STATUSES}


def run(state: State, *, series: str | None = None, author: str | None = None) -> MissingList:
    """What each series / author lacks, in reading order, with the current status. Read-only."""
    kind = SERIES_GAP if series else AUTHOR_GAP if author else None
    rows = state.missing_books(kind, series=series, author=author)
    figures: dict[tuple[str, str], dict[str, Any]] = {}
    groups: dict[tuple[str, str], MissingGroup] = {}
    for row in rows:
        gid = row["series_id"] if row["kind"] == SERIES_GAP else row["author_id"]
        name = row["series_name"] if row["kind"] == SERIES_GAP else row["author_name"]
        if (row["kind"], gid) not in figures:
            figures[(row["kind"], gid)] = state.group_figures(row["kind"], gid or "") or {}
        fig = figures[(row["kind"], gid)]
        known = fig.get("known_total")
        missing = fig.get("missing")
        g = groups.setdefault((row["kind"], gid), MissingGroup(
            row["kind"], gid or "", name or "", (known - missing) if known is not None and missing is not None
            else None, known, fig.get("last_check"), status=fig.get("status"), reason=fig.get("reason"),
            source=fig.get("source"), source_name=fig.get("source_name")))
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
            "reason_code": row.get("reason_code"),
            "reason": row.get("reason"),
            "queries": stored_queries(row.get("queries")),
        })
    out = MissingList()
    for u in state.unknown_groups():
        if (kind is None or u["kind"] == kind) and _selected(u, series=series, author=author):
            out.unknown.append(u)
    for (k, _gid), g in sorted(groups.items(), key=lambda kv: (kv[1].name.casefold(), kv[0][1])):
        g.books.sort(key=_book_order)
        (out.series if k == SERIES_GAP else out.authors).append(g)
    return out


def _selected(group: dict[str, Any], *, series: str | None, author: str | None) -> bool:
    wanted = series or author
    return not wanted or (group.get("name") or "").casefold() == wanted.casefold()


def _book_order(book: dict[str, Any]) -> tuple[Any, ...]:
    pos = position_range(book.get("position"))
    return (pos[0] if pos is not None else float("inf"), (book.get("title") or "").casefold())


def gaps_report(state: State, *, limit: int = 25) -> dict[str, Any]:
    """The report's gaps section: series completion and the authors with most gaps.

    ``series``: the ``limit`` least complete series with a known bibliography (owned/known,
    percent complete); ``authors``: the ``limit`` authors with most missing books;
    ``missing_series`` / ``missing_authors``: missing_books rows per status;
    ``reasons_series`` / ``reasons_authors``: the not_found / unwanted ones per reason;
    ``unknown``: series and authors without a bibliography, and why."""
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
    reasons = state.missing_reason_counts()
    return {
        "series_tracked": len(known_series),
        "series_complete": sum(1 for c in known_series if c["missing"] == 0),
        "series": completion[:limit],
        "series_more": max(len(completion) - limit, 0),
        "authors": authors,
        "missing_series": counts.get(SERIES_GAP, {}),
        "missing_authors": counts.get(AUTHOR_GAP, {}),
        # why the not_found / unwanted books are so, per reason code (bibliography.REASONS)
        "reasons_series": reasons.get(SERIES_GAP, {}),
        "reasons_authors": reasons.get(AUTHOR_GAP, {}),
        "unknown": [{"kind": "series" if u["kind"] == SERIES_GAP else "author", "name": u["name"],
                     "reason": u["reason"], "last_check": u["last_check"]} for u in state.unknown_groups()],
    }
